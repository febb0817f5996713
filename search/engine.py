"""The one search call used by the app, the API, the CLI and the benchmarks."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image

from index.store import CatalogIndex, Match

from .boxes import clip_boxes, crop, pad_boxes
from .detector import Detector
from .encoder import Encoder
from .images import DEFAULT_MAX_PIXELS, ImageInput, load_image

WHOLE_PHOTO = "whole photo"


@dataclass(frozen=True)
class ObjectResult:
    label: str
    box: tuple[int, int, int, int]  # pixel xyxy in the (EXIF-rotated) photo
    score: float | None  # detector confidence; None for the whole-photo query
    products: list[Match]


@dataclass(frozen=True)
class SearchResult:
    objects: list[ObjectResult]
    whole_image: bool  # nothing was detected, so the whole photo was the query
    image_size: tuple[int, int]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "objects": [
                {"label": o.label, "box": list(o.box), "score": o.score,
                 "products": [{**asdict(m.product), "score": m.score} for m in o.products]}
                for o in self.objects
            ],
            "whole_image": self.whole_image,
            "image_size": list(self.image_size),
            "timings_ms": self.timings_ms,
        }


class Engine:
    """Holds the loaded models and index; `search` is safe to call from several threads."""

    def __init__(self, detector: Detector | None, encoder: Encoder, index: CatalogIndex,
                 crop_padding: float = 0.05, max_pixels: int = DEFAULT_MAX_PIXELS):
        self.detector, self.encoder, self.index = detector, encoder, index
        self.crop_padding, self.max_pixels = crop_padding, max_pixels

    def search(self, photo: ImageInput, top_k: int = 10, conf: float | None = None) -> SearchResult:
        """Detect objects in `photo`, embed each crop, and return each object's top-`k` products."""
        timings = {}
        t0 = time.perf_counter()
        image = load_image(photo, self.max_pixels)
        detections = self.detector.detect(image, conf=conf) if self.detector else []
        t1 = time.perf_counter()
        timings["detect"] = (t1 - t0) * 1000

        if detections:
            boxes = np.array([d.box for d in detections])
            labels, scores = [d.label for d in detections], [d.score for d in detections]
        else:
            boxes = np.array([[0, 0, image.width, image.height]], dtype=np.float64)
            labels, scores = [WHOLE_PHOTO], [None]
        crops = self._crops(image, boxes)
        vectors = self.encoder.embed_images(crops)
        t2 = time.perf_counter()
        timings["embed"] = (t2 - t1) * 1000

        matches = self.index.search(vectors, top_k)
        timings["search"] = (time.perf_counter() - t2) * 1000
        timings = {k: round(v, 1) for k, v in timings.items()}

        objects = [
            ObjectResult(label, tuple(int(round(v)) for v in box), score, found)
            for label, box, score, found in zip(labels, clip_boxes(boxes, *image.size), scores, matches)
        ]
        return SearchResult(objects, not detections, image.size, timings)

    def _crops(self, image: Image.Image, boxes: np.ndarray) -> list[Image.Image]:
        padded = clip_boxes(pad_boxes(boxes, self.crop_padding), image.width, image.height)
        return [crop(image, box) for box in padded]


def load_engine(settings) -> Engine:
    """Load the index, then the encoder it was built with (unless overridden), then the detector."""
    from .detector import load_detector
    from .encoder import load_encoder

    index = CatalogIndex.load(settings.index_dir)
    encoder = load_encoder(settings.encoder or index.manifest["encoder"]["name"], device=settings.device)
    index.check_encoder(encoder)
    detector = load_detector(settings.detector, classes=settings.class_list, conf=settings.conf,
                             iou=settings.iou, max_objects=settings.max_objects, device=settings.device)
    return Engine(detector, encoder, index, crop_padding=settings.crop_padding, max_pixels=settings.max_pixels)
