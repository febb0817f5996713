"""The benchmarks' index cache: one folder per catalog content and encoder."""

from bench.index_cache import cache_dir


def test_index_cache_is_keyed_by_catalog_content_and_encoder(color_catalog, tmp_path):
    first = cache_dir(color_catalog, "enc-a", tmp_path)
    assert cache_dir(color_catalog, "enc-a", tmp_path) == first
    assert cache_dir(color_catalog, "enc-b", tmp_path) != first
    color_catalog.write_text(color_catalog.read_text() + "P9,img/red.png,Extra,chair,1,https://x.example/9\n")
    assert cache_dir(color_catalog, "enc-a", tmp_path) != first
