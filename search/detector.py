"""Object detection with an ultralytics YOLO model, returned as plain `Detection` rows."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from PIL import Image

from . import runtime  # noqa: F401  (sets ultralytics' environment before it is imported)

DEFAULT_DETECTOR = "yolo11n.pt"

# COCO classes that are things people buy for a home.
HOME_CLASSES = (
    "bench", "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv", "microwave",
    "oven", "sink", "refrigerator", "clock", "vase",
)


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # pixel xyxy in the original image
    label: str
    score: float


class DetectorError(RuntimeError):
    """The detector could not be loaded or is configured wrongly."""


class Detector:
    """A YOLO model plus the thresholds and class filter to apply. One predict at a time."""

    def __init__(self, model, classes: Sequence[str] | None = HOME_CLASSES, conf: float = 0.25,
                 iou: float = 0.5, max_objects: int = 10, imgsz: int = 640, device: str | None = None):
        self.model = model
        self.names: dict[int, str] = dict(model.names)
        self.conf, self.iou, self.max_objects, self.imgsz, self.device = conf, iou, max_objects, imgsz, device
        self.class_ids = self._class_ids(classes)
        self._lock = threading.Lock()

    def _class_ids(self, classes: Sequence[str] | None) -> list[int] | None:
        if classes is None:
            return None
        by_name = {name: i for i, name in self.names.items()}
        unknown = [c for c in classes if c not in by_name]
        if len(unknown) == len(classes):
            raise DetectorError(
                f"None of the classes {list(classes)} is known to this detector; it knows {sorted(by_name)}."
            )
        return sorted(by_name[c] for c in classes if c in by_name)

    def detect(self, image: Image.Image, conf: float | None = None) -> list[Detection]:
        """Detections in `image` (RGB PIL), best first, at most `max_objects`."""
        with self._lock:
            results = self.model.predict(
                image, conf=self.conf if conf is None else conf, iou=self.iou, classes=self.class_ids,
                max_det=self.max_objects, imgsz=self.imgsz, device=self.device, verbose=False,
            )
        boxes = results[0].boxes
        rows = zip(boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist())
        detections = [Detection(tuple(xyxy), self.names[int(cls)], float(score)) for xyxy, score, cls in rows]
        return sorted(detections, key=lambda d: -d.score)


def load_detector(weights: str | Path = DEFAULT_DETECTOR, **options) -> Detector:
    """Load YOLO weights from a local `.pt`/`.yaml` path, or a model name ultralytics can fetch."""
    from ultralytics import YOLO

    from .runtime import set_threads

    weights = str(weights)
    looks_local = Path(weights).suffix in (".pt", ".yaml", ".yml") and ("/" in weights or Path(weights).exists())
    if looks_local and not Path(weights).exists():
        raise DetectorError(f"No detector weights at {weights}.")
    try:
        model = YOLO(weights)
    except Exception as exc:  # ultralytics raises many types for bad or unreachable weights
        raise DetectorError(f"Could not load the detector {weights!r}: {exc}") from exc
    detector = Detector(model, **options)
    # The first predict sets up ultralytics' predictor, which resets torch to cpu_count - 1 threads
    # (1 on a 2-core machine, slowing the encoder too): set it up now, then set the threads back.
    detector.detect(Image.new("RGB", (64, 64)))
    set_threads()
    return detector
