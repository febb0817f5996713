"""The detector wrapper over a real (tiny) YOLO: typed Detections out, the settings applied, clear errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from core.settings import Settings
from core.types import Detections
from models.detector import DetectorError, load_detector
from support import open_vocabulary_yolo

PHOTO = Image.effect_noise((96, 96), 80).convert("RGB")


@pytest.fixture(scope="module")
def detector(tiny_yolo_path):
    return load_detector(Settings.of(detector=str(tiny_yolo_path), max_objects=5, device="cpu").models)


def test_detections_are_the_asked_classes_best_first_within_the_photo(detector):
    [found] = detector.detect([PHOTO], conf=0.5, classes=["chair", "bed"])
    assert isinstance(found, Detections) and len(found) == 5  # the head sees chairs everywhere; max_objects 5
    assert set(found.labels) == {"chair"}
    assert np.all(found.scores >= 0.5) and np.all(found.scores <= 1)
    assert found.scores.tolist() == sorted(found.scores.tolist(), reverse=True)
    boxes = found.boxes
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 96) and np.all(boxes[:, 2:] > boxes[:, :2])


@pytest.mark.parametrize("conf, classes", [(0.5, ["bed"]), (0.5, []), (0.99999, ["chair"])])
def test_nothing_of_other_classes_or_below_conf(detector, conf, classes):
    [found] = detector.detect([PHOTO], conf=conf, classes=classes)
    assert len(found) == 0 and found.boxes.shape == (0, 4)


def test_all_classes_when_none_are_named(detector):
    assert len(detector.detect([PHOTO], conf=0.5, classes=None)[0]) == 5


def test_a_batch_gives_each_photo_what_it_gets_alone(tiny_yolo_path):
    detector = load_detector(Settings.of(detector=str(tiny_yolo_path), max_objects=50, device="cpu").models)
    photos = [
        PHOTO,
        Image.effect_noise((64, 128), 60).convert("RGB"),
        PHOTO.rotate(90),
        PHOTO.resize((160, 96)),
        *(PHOTO.rotate(angle) for angle in (10, 20, 30)),
    ]  # five of one size: more than a forward pass takes
    assert detector.forward_batch < 5
    together = detector.detect(photos, conf=0.3, classes=None)
    for photo, found in zip(photos, together):
        [alone] = detector.detect([photo], conf=0.3, classes=None)
        assert found.labels == alone.labels and np.allclose(found.boxes, alone.boxes, atol=1e-3)
        assert np.allclose(found.scores, alone.scores, atol=1e-5)
    assert detector.detect([], conf=0.3, classes=None) == []


def test_missing_weights_are_a_clear_error(tmp_path):
    with pytest.raises(DetectorError, match="No detector weights"):
        load_detector(Settings.of(detector=str(tmp_path / "nope.pt")).models)


def test_corrupt_weights_are_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DetectorError, match="Could not load the detector"):
        load_detector(Settings.of(detector=str(bad)).models)


def test_loading_leaves_torch_on_the_threads_of_the_settings(tiny_yolo_path):
    # ultralytics' first predict resets torch to cpu_count - 1 threads; the encoder shares them.
    before = torch.get_num_threads()
    try:
        load_detector(Settings.of(detector=str(tiny_yolo_path), threads=3, device="cpu").models)
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


def save_tiny_kinds_yolo(path, names: dict[int, str], sees: int):
    """A random YOLO11n of the classes `names` whose head sees class `sees` everywhere."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(1)
    model = YOLO("yolo11n.yaml")
    model.model = DetectionModel("yolo11n.yaml", nc=len(names), verbose=False)
    model.model.names = names
    for branch in model.model.model[-1].cv3:
        torch.nn.init.constant_(branch[-1].bias, -10.0)
        branch[-1].bias.data[sees] = 2.0
    model.save(str(path))
    return path


@pytest.fixture(scope="module")
def tiny_rug_yolo_path(tmp_path_factory):
    """A catalog detector of two catalog kinds, "lamp" and "rug", that sees a rug everywhere."""
    return save_tiny_kinds_yolo(tmp_path_factory.mktemp("models") / "tiny-rug-yolo.pt", {0: "lamp", 1: "rug"}, 1)


def test_a_catalog_detector_is_pooled_with_the_detector(tiny_yolo_path, tiny_rug_yolo_path):
    pooled = load_detector(
        Settings.of(
            detector=str(tiny_yolo_path), catalog_detector=str(tiny_rug_yolo_path), max_objects=5, device="cpu"
        ).models
    )
    assert {"chair", "couch", "lamp", "rug"} <= set(pooled.names.values())
    [found] = pooled.detect([PHOTO], conf=0.5, classes=["chair", "rug"])
    assert found.labels.count("chair") == 5 and found.labels.count("rug") == 5  # each detector's own limit
    assert found.scores.tolist() == sorted(found.scores.tolist(), reverse=True)
    [rugs] = pooled.detect([PHOTO], conf=0.5, classes=["rug", "bed"])
    assert set(rugs.labels) == {"rug"} and len(rugs) == 5


def test_a_class_both_detectors_know_is_left_to_the_catalogs(tiny_yolo_path, tmp_path):
    # The catalog's detector knows chairs too but sees only rugs: the general detector's chairs are not asked for.
    catalog = save_tiny_kinds_yolo(tmp_path / "chair-rug.pt", {0: "chair", 1: "rug"}, 1)
    pooled = load_detector(
        Settings.of(detector=str(tiny_yolo_path), catalog_detector=str(catalog), max_objects=5, device="cpu").models
    )
    assert pooled.detect([PHOTO], conf=0.5, classes=["chair"])[0].labels == ()
    assert set(pooled.detect([PHOTO], conf=0.5, classes=None)[0].labels) == {"rug"}


def test_missing_catalog_detector_weights_are_a_clear_error(tiny_yolo_path, tmp_path):
    with pytest.raises(DetectorError, match="No detector weights"):
        load_detector(
            Settings.of(detector=str(tiny_yolo_path), catalog_detector=str(tmp_path / "none.pt"), device="cpu").models
        )


def test_an_open_vocabulary_detector_takes_the_catalogs_kinds_as_its_classes(yoloe_text):
    asked = yoloe_text
    detector = open_vocabulary_yolo(Settings.of(detector="yoloe-11n.yaml", max_objects=5, device="cpu").models)
    assert detector.open_vocabulary and detector.knows_catalog_kinds
    detector.learn_kinds(["chair", "bookcase", "rug"])
    assert asked == [["chair", "bookcase", "rug"]] and detector.names == {0: "chair", 1: "bookcase", 2: "rug"}
    [found] = detector.detect([PHOTO], conf=0.5, classes=None)
    assert len(found) == 5 and set(found.labels) <= {"chair", "bookcase", "rug"}
    seen = found.labels[0]  # the kind whose random embedding the random head favours
    [only] = detector.detect([PHOTO], conf=0.5, classes=[seen])
    assert len(only) == 5 and set(only.labels) == {seen}
    detector.learn_kinds(["chair", "bookcase", "rug"])  # the same kinds again: nothing to embed
    assert len(asked) == 1


def test_a_detector_of_fixed_classes_keeps_its_own(detector):
    names = dict(detector.names)
    assert not detector.open_vocabulary and not detector.knows_catalog_kinds
    detector.learn_kinds(["bookcase", "rug"])
    assert detector.names == names


def test_pooled_an_open_vocabulary_detector_learns_the_kinds_the_other_does_not_know(tiny_yolo_path, yoloe_text):
    pooled = open_vocabulary_yolo(
        Settings.of(detector=str(tiny_yolo_path), catalog_detector="yoloe-11n.yaml", max_objects=5, device="cpu").models
    )
    pooled.learn_kinds(["chair", "couch", "bookcase", "rug"])
    assert yoloe_text == [["bookcase", "rug"]]
    assert pooled.detectors[1].names == {0: "bookcase", 1: "rug"}  # chairs and sofas are COCO's
    assert {"chair", "couch", "bookcase", "rug"} <= set(pooled.names.values())
    [found] = pooled.detect([PHOTO], conf=0.5, classes=None)
    assert found.labels.count("chair") == 5 and len(found) == 10  # each detector's own limit
    assert {label for label in found.labels if label != "chair"} <= {"bookcase", "rug"}


def test_the_loader_tells_an_open_vocabulary_detector_the_kinds(yoloe_text):
    detector = load_detector(Settings.of(detector="yoloe-11n.yaml", device="cpu").models, kinds=("chair", "rug"))
    assert yoloe_text == [["chair", "rug"]] and detector.names == {0: "chair", 1: "rug"}


def test_kinds_that_cannot_be_embedded_are_a_clear_error(monkeypatch):
    from ultralytics.nn.tasks import YOLOEModel

    def offline(self, words, *args, **kwargs):
        raise ConnectionError("no route to the Hub")

    monkeypatch.setattr(YOLOEModel, "get_text_pe", offline)
    with pytest.raises(DetectorError, match=r"open-vocabulary detector .*no route to the Hub"):
        load_detector(Settings.of(detector="yoloe-11n.yaml", device="cpu").models, kinds=("rug",))
