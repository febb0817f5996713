"""bench.build: a capped build timed, and the default cap's minutes at that rate."""

import json

from bench.build import main
from core.defaults import DEFAULT_CATALOG_READING


def test_a_capped_build_is_timed_and_the_default_cap_projected(color_catalog, tiny_clip_path, tmp_path):
    out = tmp_path / "build.json"
    assert (
        main(["--catalog", str(color_catalog), "--limit", "4", "--encoder", str(tiny_clip_path), "--out", str(out)])
        == 0
    )
    figures = json.loads(out.read_text())
    assert figures["products"] == 4 and figures["images_per_second"] > 0
    assert figures["default_cap"] == DEFAULT_CATALOG_READING["catalog_limit"]
    assert abs(figures["default_cap_minutes"] - figures["default_cap"] / figures["images_per_second"] / 60) < 0.1
