"""Object detection with an ultralytics YOLO model; results leave as `core.types.Detections`."""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
from PIL import Image

from core.errors import LookalikeError
from core.settings import ModelSettings
from core.types import Detections

from .runtime import pick_device, quiet_ultralytics, set_threads

if TYPE_CHECKING:
    from torch import nn


class DetectorError(LookalikeError):
    """The detector could not be loaded."""


WARM_UP_CONF = 0.25  # any threshold: the warm-up's boxes are thrown away
# Photos per forward pass. On a CPU a batch costs what its photos cost one by one (4 photos: 444 ms,
# one: 106 ms, on these 2 cores), while its activations grow with it: a crowd's batch of 16 would hold
# them all at once. Two are a photo and its mirror image. A GPU's batches pay.
CPU_BATCH = 2
GPU_BATCH = 32


class Detector:
    """A YOLO model run at `imgsz` (default: the settings' input size), with the settings' NMS IoU and
    box limit (`iou`, `max_objects`). One predict at a time. A `core.protocols.ObjectDetector`.

    An open-vocabulary model (YOLOE with text prompts) has no classes of its own worth asking for:
    `learn_kinds` makes the catalog's kinds its classes, embedded by YOLOE's own text model (which
    ultralytics fetches from the Hub the first time).
    """

    def __init__(self, model, settings: ModelSettings, imgsz: int | None = None):
        self.model, self.settings = model, settings
        self.imgsz = imgsz or settings.imgsz
        self.iou, self.max_objects = settings.iou, settings.max_objects
        self.forward_batch = CPU_BATCH if pick_device(settings.device) == "cpu" else GPU_BATCH
        self._lock = threading.Lock()
        self._name(model.names)

    def _name(self, names: dict[int, str]) -> None:
        self.names = dict(names)  # class id -> class name
        self._ids = {name: i for i, name in self.names.items()}

    @property
    def open_vocabulary(self) -> bool:
        """Whether its classes are set by words: a YOLOE with text prompts (not a prompt-free one, whose
        vocabulary is fused into it, nor a YOLO-World, whose text model ultralytics installs from GitHub)."""
        from ultralytics.nn.tasks import YOLOEModel

        network = getattr(self.model, "model", None)
        # Its layers are the nn.Sequential ultralytics' parse_model builds, which mypy reads as a Tensor or a Module.
        return isinstance(network, YOLOEModel) and not hasattr(cast("nn.Sequential", network.model)[-1], "lrpc")

    @property
    def knows_catalog_kinds(self) -> bool:
        """Whether its classes are the catalog's own words: an open vocabulary, told them."""
        return self.open_vocabulary

    def learn_kinds(self, kinds: Sequence[str]) -> None:
        """Make `kinds` (the catalog's words for what it sells) the classes of an open-vocabulary
        detector; a detector of fixed classes keeps its own."""
        if not self.open_vocabulary or not kinds or list(self.names.values()) == list(kinds):
            return
        words = list(kinds)
        try:
            embeddings = self.model.get_text_pe(words)
        except Exception as exc:  # the text model is fetched from the Hub: offline, ultralytics raises many types
            raise DetectorError(
                f"Could not embed the catalog's kinds for the open-vocabulary detector (its "
                f"text model comes from the Hub the first time): {exc}"
            ) from exc
        with self._lock:
            self.model.set_classes(words, embeddings)
            self._name(self.model.names)
        _warm_up(self)  # set_classes dropped the predictor

    def detect(
        self, images: Sequence[Image.Image], *, conf: float, classes: Collection[str] | None
    ) -> list[Detections]:
        """For each of `images` (RGB PIL), its boxes scoring at least `conf`, of `classes` (names;
        None: all), best first.

        Images of one size are run together, `forward_batch` at a time: ultralytics pads a batch of
        mixed sizes to a square, which would make a photo's boxes depend on what it was batched with.
        """
        ids = None if classes is None else sorted(self._ids[c] for c in classes if c in self._ids)
        if ids == []:
            return [Detections.empty() for _ in images]
        s = self.settings
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            by_size.setdefault(image.size, []).append(i)
        found: list[Detections] = [Detections.empty()] * len(images)
        with self._lock:
            for same_size in by_size.values():
                for start in range(0, len(same_size), self.forward_batch):
                    members = same_size[start : start + self.forward_batch]
                    results = self.model.predict(
                        [images[i] for i in members],
                        conf=conf,
                        iou=s.iou,
                        classes=ids,
                        max_det=s.max_objects,
                        imgsz=self.imgsz,
                        device=s.device,
                        verbose=False,
                    )
                    for i, result in zip(members, results):
                        found[i] = self._detections(result.boxes)
        return found

    def _detections(self, boxes) -> Detections:
        scores = np.asarray(boxes.conf.tolist(), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")
        labels = [self.names[int(c)] for c in boxes.cls.tolist()]
        return Detections(
            np.asarray(boxes.xyxy.tolist(), dtype=np.float64).reshape(-1, 4)[order],
            scores[order],
            tuple(labels[i] for i in order),
        )


class PooledDetector:
    """Detectors run as one: each looks for the classes it knows, and their boxes are pooled. A class
    several know is left to the last: the catalog's detector, trained for it."""

    knows_catalog_kinds = True  # the catalog's detector, beside a general one, knows the catalog's own kinds

    def __init__(self, detectors: Sequence[Detector]):
        self.detectors = tuple(detectors)
        self.iou, self.max_objects = detectors[0].iou, detectors[0].max_objects
        self._pool()

    def _pool(self) -> None:
        pooled = dict.fromkeys(name for d in self.detectors for name in d.names.values())
        self.names: dict[int, str] = dict(enumerate(pooled))
        # The classes each detector is asked for: its own, less those a later one knows.
        self._owned = [
            set(d.names.values()) - {n for later in self.detectors[i + 1 :] for n in later.names.values()}
            for i, d in enumerate(self.detectors)
        ]

    @property
    def open_vocabulary(self) -> bool:
        return any(d.open_vocabulary for d in self.detectors)

    def learn_kinds(self, kinds: Sequence[str]) -> None:
        """An open-vocabulary detector among them learns the kinds no detector of fixed classes knows."""
        fixed = {n for d in self.detectors if not d.open_vocabulary for n in d.names.values()}
        for detector in self.detectors:
            detector.learn_kinds([k for k in kinds if k not in fixed])
        self._pool()

    def detect(
        self, images: Sequence[Image.Image], *, conf: float, classes: Collection[str] | None
    ) -> list[Detections]:
        """As `Detector.detect`, the boxes of every detector together, best first."""
        found = [Detections.empty() for _ in images]
        for detector, owned in zip(self.detectors, self._owned):
            asked = owned if classes is None else owned & set(classes)
            found = [a + b for a, b in zip(found, detector.detect(images, conf=conf, classes=asked))]
        return [d[np.argsort(-d.scores, kind="stable")] for d in found]


def load_detector(settings: ModelSettings, kinds: Sequence[str] = ()) -> Detector | PooledDetector:
    """Load `settings.detector`: a local `.pt`/`.yaml` path, or a model name ultralytics can fetch;
    pooled with `settings.catalog_detector` when there is one. An open-vocabulary detector is told
    `kinds`, the catalog's words for what it sells (`index.store.kinds.ProductKinds.words`)."""
    general = _load(settings.detector, settings)
    detector: Detector | PooledDetector = general
    if settings.catalog_detector:
        detector = PooledDetector([general, _load(settings.catalog_detector, settings, trained_size=True)])
    detector.learn_kinds(kinds)
    return detector


def _load(weights: str, settings: ModelSettings, trained_size: bool = False) -> Detector:
    """One YOLO model; with `trained_size`, run at the input size it was trained at."""
    model = load_yolo(weights)
    trained = (getattr(model, "ckpt", None) or {}).get("train_args", {}).get("imgsz") if trained_size else None
    detector = Detector(model, settings, imgsz=trained if isinstance(trained, int) else None)
    _warm_up(detector)
    return detector


def _warm_up(detector: Detector) -> None:
    """The first predict sets up ultralytics' predictor, which resets torch's thread count: do it
    now, then set the threads back. A 4:3 photo, as most are, so that the first search runs on
    shapes the model has seen."""
    detector.detect([Image.new("RGB", (1024, 768))], conf=WARM_UP_CONF, classes=None)
    set_threads(detector.settings.threads)


def load_yolo(weights: str):
    """A YOLO from a local `.pt`/`.yaml` path, or a model name ultralytics can fetch."""
    from ultralytics import YOLO

    quiet_ultralytics()
    looks_local = Path(weights).suffix in (".pt", ".yaml", ".yml") and ("/" in weights or Path(weights).exists())
    if looks_local and not Path(weights).exists():
        raise DetectorError(f"No detector weights at {weights}.")
    try:
        return YOLO(weights)
    except Exception as exc:  # ultralytics raises many types for bad or unreachable weights
        raise DetectorError(f"Could not load the detector {weights!r}: {exc}") from exc
