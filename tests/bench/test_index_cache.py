"""The benchmarks' index cache: one folder per catalog content, encoder, share of each photo embedded and kind
rules."""

import json

from bench.index_cache import cache_dir


def test_index_cache_is_keyed_by_catalog_content_encoder_photo_share_and_rules(color_catalog, tmp_path):
    first = cache_dir(color_catalog, "enc-a", root=tmp_path)
    assert cache_dir(color_catalog, "enc-a", root=tmp_path) == first
    assert cache_dir(color_catalog, "enc-b", root=tmp_path) != first
    assert cache_dir(color_catalog, "enc-a", 0.79, root=tmp_path) != first
    assert cache_dir(color_catalog, "enc-a", 1.0, root=tmp_path) == first  # the default share is the whole photo
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"chair": ["stol"]}))
    assert cache_dir(color_catalog, "enc-a", root=tmp_path, kind_rules=str(rules)) != first
    color_catalog.write_text(color_catalog.read_text() + "P9,img/red.png,Extra,chair,1,https://x.example/9\n")
    assert cache_dir(color_catalog, "enc-a", root=tmp_path) != first
