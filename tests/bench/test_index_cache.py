"""The benchmarks' index cache: one folder per catalog content, encoder and share of each photo embedded."""

from bench.index_cache import cache_dir


def test_index_cache_is_keyed_by_catalog_content_encoder_and_photo_share(color_catalog, tmp_path):
    first = cache_dir(color_catalog, "enc-a", root=tmp_path)
    assert cache_dir(color_catalog, "enc-a", root=tmp_path) == first
    assert cache_dir(color_catalog, "enc-b", root=tmp_path) != first
    assert cache_dir(color_catalog, "enc-a", 0.79, root=tmp_path) != first
    assert cache_dir(color_catalog, "enc-a", 1.0, root=tmp_path) == first  # the whole photo: the key it always had
    color_catalog.write_text(color_catalog.read_text() + "P9,img/red.png,Extra,chair,1,https://x.example/9\n")
    assert cache_dir(color_catalog, "enc-a", root=tmp_path) != first
