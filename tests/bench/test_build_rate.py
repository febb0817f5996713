"""bench.build: a capped build timed with its hubness and close-ups measured, and the default cap's minutes."""

import json

import pytest

from bench.build import main
from core.defaults import DEFAULT_CATALOG_READING
from core.settings import CatalogSettings


@pytest.mark.parametrize("hub_views", [0, CatalogSettings.hub_views])
def test_a_capped_build_is_timed_and_the_default_cap_projected(color_catalog, tiny_clip_path, tmp_path, hub_views):
    out = tmp_path / "build.json"
    args = ["--catalog", str(color_catalog), "--limit", "4", "--encoder", str(tiny_clip_path), "--out", str(out)]
    assert main([*args, "--hub-views", str(hub_views)]) == 0
    figures = json.loads(out.read_text())
    assert figures["products"] == 4 and figures["images_per_second"] > 0
    cap = figures["default_cap"]
    assert cap == DEFAULT_CATALOG_READING["catalog_limit"]
    minutes = cap / figures["images_per_second"] / 60
    if hub_views:  # one view of each of the 4 photos, less any hidden in its room; the cap's 1,000 at that rate
        assert 2 <= figures["hub_views"] <= 4 and figures["views_per_second"] > 0
        minutes += min(hub_views, cap) / figures["views_per_second"] / 60
        minutes += cap / figures["close_ups_per_second"] / 60  # each photo's middle embedded besides
    else:
        assert figures["hub_views"] == 0 and figures["views_per_second"] is None
        assert figures["close_ups_per_second"] is None
    assert abs(figures["default_cap_minutes"] - minutes) < 0.1
