"""The engine's two model seams: the real models and the tests' fakes are each what the engine is typed against."""

import pytest
from PIL import Image

from core.protocols import ImageEncoder, ObjectDetector
from core.settings import Settings
from support import FakeDetector, FakeEncoder


def test_the_fakes_are_a_detector_and_an_encoder():
    assert isinstance(FakeDetector(Image.new("RGB", (8, 8)), []), ObjectDetector)
    assert isinstance(FakeEncoder({(0, 0, 0): [1, 0]}), ImageEncoder)
    assert not isinstance(FakeEncoder({(0, 0, 0): [1, 0]}), ObjectDetector)


def test_the_real_models_are_a_detector_and_an_encoder(tiny_yolo_path, tiny_clip, tiny_vit_path):
    from models.detector import load_detector
    from models.encoder import load_encoder

    detector = load_detector(Settings.of(detector=str(tiny_yolo_path), device="cpu").models)
    pooled = load_detector(
        Settings.of(detector=str(tiny_yolo_path), catalog_detector=str(tiny_yolo_path), device="cpu").models
    )
    assert isinstance(detector, ObjectDetector) and isinstance(pooled, ObjectDetector)
    assert isinstance(tiny_clip, ImageEncoder) and isinstance(load_encoder(str(tiny_vit_path)), ImageEncoder)


@pytest.mark.parametrize("missing", ["names", "knows_catalog_kinds", "iou", "max_objects", "detect"])
def test_a_detector_lacking_any_part_is_not_one(missing):
    detector = FakeDetector(Image.new("RGB", (8, 8)), [])
    parts = {
        name: getattr(detector, name)
        for name in ("names", "knows_catalog_kinds", "iou", "max_objects", "detect")
        if name != missing
    }
    assert not isinstance(type("Partial", (), parts)(), ObjectDetector)
