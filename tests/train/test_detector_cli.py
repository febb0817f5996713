"""python -m train detector: synthetic scenes of the catalog's own kinds, then a fine-tune of a tiny YOLO on them."""

import pytest

from core.settings import Settings
from models.detector import load_detector
from support import colour_catalog
from train.__main__ import main


@pytest.mark.slow  # a real (one-epoch, tiny) ultralytics training run
def test_a_detector_of_the_catalogs_own_kinds_is_trained_and_served_beside_the_detector(
    tiny_yolo_path, tmp_path, capsys
):
    catalog = colour_catalog(
        tmp_path / "shop",
        [
            ("C1", "Chair", (255, 0, 0)),
            ("R1", "Rug", (0, 0, 255)),
            ("R2", "Rugs", (0, 0, 200)),
            ("L1", "Floor lamp", (250, 250, 0)),
        ],
    )
    out = tmp_path / "detectors" / "shop.pt"
    assert (
        main(
            [
                "detector",
                "--source",
                str(catalog),
                "--base",
                str(tiny_yolo_path),
                "--out",
                str(out),
                "--min-photos",
                "2",
                "--scenes",
                "8",
                "--epochs",
                "1",
                "--imgsz",
                "64",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    # Rugs have two photos, lamps one: only rugs are learnt; chairs are the detector's own class.
    assert "of 1 kinds (rug)" in capsys.readouterr().out and out.exists()
    assert (tmp_path / "detectors" / "shop-scenes" / "data.yaml").exists()
    pooled = load_detector(Settings.of(detector=str(tiny_yolo_path), catalog_detector=str(out), device="cpu").models)
    trained = pooled.detectors[1]
    assert trained.names == {0: "rug"} and trained.imgsz == 64  # run at the size it was trained at
    assert pooled.detectors[0].imgsz == Settings.of().models.imgsz


def test_a_catalog_of_detector_classes_only_has_nothing_to_learn(tiny_yolo_path, tmp_path, capsys):
    catalog = colour_catalog(tmp_path / "shop", [("C1", "Chair", (255, 0, 0)), ("S1", "Sofa", (0, 0, 255))])
    assert (
        main(["detector", "--source", str(catalog), "--base", str(tiny_yolo_path), "--out", str(tmp_path / "d.pt")])
        == 2
    )
    assert "nothing to learn" in capsys.readouterr().err and not (tmp_path / "d.pt").exists()


def test_missing_base_weights_are_a_clear_error(tmp_path, capsys):
    catalog = colour_catalog(tmp_path / "shop", [("R1", "Rug", (0, 0, 255)), ("R2", "Rug", (0, 0, 200))])
    assert (
        main(
            [
                "detector",
                "--source",
                str(catalog),
                "--base",
                str(tmp_path / "none.pt"),
                "--min-photos",
                "1",
                "--scenes",
                "2",
                "--out",
                str(tmp_path / "d.pt"),
            ]
        )
        == 2
    )
    assert "No detector weights at" in capsys.readouterr().err and not (tmp_path / "d.pt").exists()
    assert not (tmp_path / "d-scenes").exists()  # told before any scene is made
