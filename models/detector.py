"""Object detection with an ultralytics YOLO model; results leave as `core.types.Detections`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Collection, Sequence

import numpy as np
from PIL import Image

from core.errors import LookalikeError
from core.settings import Settings
from core.types import Detections

from .runtime import quiet_ultralytics, set_threads


class DetectorError(LookalikeError):
    """The detector could not be loaded."""


class Detector:
    """A YOLO model run at the settings' input size, NMS IoU and box limit. One predict at a time."""

    def __init__(self, model, settings: Settings):
        self.model, self.settings = model, settings
        self.names: dict[int, str] = dict(model.names)  # class id -> class name
        self._ids = {name: i for i, name in self.names.items()}
        self._lock = threading.Lock()

    def detect(self, images: Sequence[Image.Image], *, conf: float,
               classes: Collection[str] | None) -> list[Detections]:
        """For each of `images` (RGB PIL), its boxes scoring at least `conf`, of `classes` (names;
        None: all), best first.

        Images of one size are run as one batch: ultralytics pads a batch of mixed sizes to a square,
        which would make a photo's boxes depend on what it was batched with.
        """
        ids = None if classes is None else sorted(self._ids[c] for c in classes if c in self._ids)
        s = self.settings
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            by_size.setdefault(image.size, []).append(i)
        found: list[Detections] = [Detections.empty()] * len(images)
        with self._lock:
            for members in by_size.values():
                results = self.model.predict([images[i] for i in members], conf=conf, iou=s.iou, classes=ids,
                                             max_det=s.max_objects, imgsz=s.imgsz, device=s.device, verbose=False)
                for i, result in zip(members, results):
                    found[i] = self._detections(result.boxes)
        return found

    def _detections(self, boxes) -> Detections:
        scores = np.asarray(boxes.conf.tolist(), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")
        labels = [self.names[int(c)] for c in boxes.cls.tolist()]
        return Detections(np.asarray(boxes.xyxy.tolist(), dtype=np.float64).reshape(-1, 4)[order], scores[order],
                          tuple(labels[i] for i in order))


def load_detector(settings: Settings) -> Detector:
    """Load `settings.detector`: a local `.pt`/`.yaml` path, or a model name ultralytics can fetch."""
    quiet_ultralytics()
    from ultralytics import YOLO

    weights = settings.detector
    looks_local = Path(weights).suffix in (".pt", ".yaml", ".yml") and ("/" in weights or Path(weights).exists())
    if looks_local and not Path(weights).exists():
        raise DetectorError(f"No detector weights at {weights}.")
    try:
        model = YOLO(weights)
    except Exception as exc:  # ultralytics raises many types for bad or unreachable weights
        raise DetectorError(f"Could not load the detector {weights!r}: {exc}") from exc
    detector = Detector(model, settings)
    # The first predict sets up ultralytics' predictor, which resets torch's thread count: do it
    # now, then set the threads back. A 4:3 photo, as most are, so that the first search runs on
    # shapes the model has seen.
    detector.detect([Image.new("RGB", (1024, 768))], conf=settings.conf, classes=None)
    set_threads(settings.threads)
    return detector
