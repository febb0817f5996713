"""bench.speed times an index build and a search of the default pipeline, and says on what machine."""

import json

from bench.speed import main


def test_speed_reports_build_and_search_times(color_catalog, tiny_clip_path, tiny_yolo_path, tmp_path, capsys):
    out = tmp_path / "speed.json"
    assert main(["--catalog", str(color_catalog), "--photo", str(color_catalog.parent / "img" / "red.png"),
                 "--detector", str(tiny_yolo_path), "--encoder", str(tiny_clip_path), "--repeats", "2",
                 "--out", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures == json.loads(capsys.readouterr().out)
    assert figures["index_products"] == 6 and figures["index_images_per_second"] > 0
    assert set(figures["search_ms_median"]) == {"total", "detect", "embed", "search"}
    assert figures["objects"] >= 1 and figures["machine"]["cpus"] >= 1
