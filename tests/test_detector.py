"""The detector wrapper: class filter by name, typed rows out, clear errors."""

import pytest
from PIL import Image

from search.detector import HOME_CLASSES, Detection, DetectorError, load_detector


def test_tiny_yolo_loads_from_a_pt_and_returns_detection_rows(tiny_yolo_path):
    detector = load_detector(tiny_yolo_path, conf=0.0001, max_objects=5)
    assert set(detector.class_ids) == {i for i, n in detector.names.items() if n in HOME_CLASSES}
    found = detector.detect(Image.effect_noise((96, 96), 80).convert("RGB"))
    assert len(found) <= 5
    assert all(isinstance(d, Detection) and d.label in HOME_CLASSES for d in found)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_all_classes(tiny_yolo_path):
    assert load_detector(tiny_yolo_path, classes=None).class_ids is None


def test_unknown_classes_are_refused(tiny_yolo_path):
    with pytest.raises(DetectorError, match="None of the classes"):
        load_detector(tiny_yolo_path, classes=["spaceship"])


def test_missing_weights_are_a_clear_error(tmp_path):
    with pytest.raises(DetectorError, match="No detector weights"):
        load_detector(tmp_path / "nope.pt")


def test_corrupt_weights_are_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DetectorError, match="Could not load the detector"):
        load_detector(bad)


def test_detecting_leaves_torch_on_every_thread(tiny_yolo_path, monkeypatch):
    import torch

    # ultralytics' first predict resets torch to cpu_count - 1 threads; the encoder shares them.
    before = torch.get_num_threads()
    monkeypatch.setenv("LOOKALIKE_THREADS", "3")
    try:
        detector = load_detector(tiny_yolo_path, device="cpu")
        detector.detect(Image.new("RGB", (96, 96)))
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
