"""bench.speed: a build and a search of the default pipeline against the bare model passes they need,
for each encoder, and on what machine."""

import json

from bench.speed import main


def test_speed_reports_ratios_to_the_bare_passes(color_catalog, tiny_clip_path, tiny_yolo_path, tmp_path, capsys):
    out = tmp_path / "speed.json"
    assert (
        main(
            [
                "--catalog",
                str(color_catalog),
                "--photo",
                str(color_catalog.parent / "img" / "red.png"),
                "--detector",
                str(tiny_yolo_path),
                "--encoder",
                str(tiny_clip_path),
                "--also",
                str(tiny_clip_path),
                "--repeats",
                "2",
                "--set",
                "detect_mirrored=false",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    figures = json.loads(out.read_text())
    assert figures == json.loads(capsys.readouterr().out)
    runs = figures["encoders"]
    assert [run["encoder"] for run in runs] == [str(tiny_clip_path)] * 2
    for run in runs:
        assert run["index_products"] == 6 and run["build_images_per_second"] > 0 and run["objects"] >= 1
        assert {"total", "detect", "embed", "search", "bare_detect", "bare_embed"} <= set(run["search_ms_median"])
        ms = run["search_ms_median"]
        assert run["search_ratio"] == round(ms["total"] / (ms["bare_detect"] + ms["bare_embed"]), 2)
        # The ratio of the unrounded rates, which the report rounds to 0.1 each: within their rounding of it.
        built, bare = run["build_images_per_second"], run["model_images_per_second"]
        assert (built - 0.05) / (bare + 0.05) - 0.005 <= run["build_ratio"] <= (built + 0.05) / (bare - 0.05) + 0.005
    assert figures["search_ratio"] == max(run["search_ratio"] for run in runs)
    assert figures["build_ratio"] == min(run["build_ratio"] for run in runs)
    assert figures["settings"] == ["detect_mirrored=false"] and figures["machine"]["cpus"] >= 1
