"""The one search call used by the app, the API, the CLI and the benchmarks."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image, ImageOps

from index.store import CatalogIndex, Match

from .boxes import clip_boxes, crop, letterbox, mirror_boxes, nms, pad_boxes
from .detector import Detection, Detector
from .encoder import Encoder
from .grouping import DEPTH as GROUP_DEPTH
from .grouping import fuse_best, group_lookalikes
from .images import DEFAULT_MAX_PIXELS, ImageInput, load_image
from .kinds import ProductKinds, load_kind_rules

WHOLE_PHOTO = "whole photo"
CROP_STYLES = ("catalog", "box")  # catalog: square on the catalog's background; box: the padded box as is
WHITE = (255, 255, 255)
# An unsure detection is kept when a product of its kind is among the crop's nearest this many
# in the whole catalog: the catalog's own photos vouch for what the detector half-saw.
VERIFY_NEIGHBOURS = 10


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
    """Holds the loaded models and index; `search` is safe to call from several threads.

    With `kinds` (the catalog's product kinds), each object is searched among the products of its
    kind, detections of classes the catalog does not sell are dropped, and detections scoring
    between `low_conf` and the confidence threshold are kept only when the catalog agrees: one of
    the crop's nearest catalog products is of the detected kind.
    """

    def __init__(self, detector: Detector | None, encoder: Encoder, index: CatalogIndex,
                 crop_padding: float = 0.05, max_pixels: int = DEFAULT_MAX_PIXELS, *,
                 kinds: ProductKinds | None = None, crop_style: str = "catalog", low_conf: float | None = None,
                 group_objects: bool = True, detect_mirrored: bool = True):
        if crop_style not in CROP_STYLES:
            raise ValueError(f"crop_style must be one of {CROP_STYLES}, got {crop_style!r}.")
        self.detector, self.encoder, self.index = detector, encoder, index
        self.crop_padding, self.max_pixels = crop_padding, max_pixels
        self.kinds = kinds if kinds else None  # a catalog without any known kind searches everything
        self.crop_style, self.low_conf = crop_style, low_conf
        self.group_objects, self.detect_mirrored = group_objects, detect_mirrored
        self.background = tuple(index.manifest.get("background") or WHITE)

    def search(self, photo: ImageInput, top_k: int = 10, conf: float | None = None) -> SearchResult:
        """Detect objects in `photo`, embed each crop, and return each object's top-`k` products."""
        timings = {}
        t0 = time.perf_counter()
        image = load_image(photo, self.max_pixels)
        confident = conf if conf is not None else (self.detector.conf if self.detector else 0.0)
        detections = self._detect(image, confident)
        t1 = time.perf_counter()
        timings["detect"] = (t1 - t0) * 1000

        if not detections:
            vectors = self.encoder.embed_images([image])
            t2 = time.perf_counter()
            [found] = self.index.search(vectors, top_k)
            objects = [ObjectResult(WHOLE_PHOTO, (0, 0, image.width, image.height), None, found)]
        else:
            vectors = self.encoder.embed_images(self._crops(image, np.array([d.box for d in detections])))
            t2 = time.perf_counter()
            objects = self._match(detections, vectors, confident, top_k, image.size)
        timings["embed"] = (t2 - t1) * 1000
        timings["search"] = (time.perf_counter() - t2) * 1000
        timings = {k: round(v, 1) for k, v in timings.items()}
        return SearchResult(objects, not detections, image.size, timings)

    def _detect(self, image: Image.Image, confident: float) -> list[Detection]:
        if self.detector is None:
            return []
        floor = min(self.low_conf, confident) if self.kinds and self.low_conf is not None else confident
        found = self.detector.detect(image, conf=floor)
        if self.detect_mirrored:
            # A second look at the mirrored photo finds objects the first pass scored too low.
            mirrored = self.detector.detect(ImageOps.mirror(image), conf=floor)
            boxes = mirror_boxes(np.array([d.box for d in mirrored]), image.width)
            found += [Detection(tuple(b), d.label, d.score) for b, d in zip(boxes.tolist(), mirrored)]
            keep = nms(np.array([d.box for d in found]), [d.score for d in found], [d.label for d in found],
                       self.detector.iou)
            found = [found[i] for i in keep][: self.detector.max_objects]
        if self.kinds:
            found = [d for d in found if d.label in self.kinds]
        return found

    def _match(self, detections: list[Detection], vectors: np.ndarray, confident: float, top_k: int,
               size: tuple[int, int]) -> list[ObjectResult]:
        if self.kinds:
            keep = self._confirmed(detections, vectors, confident)
        else:
            keep = [d.score >= confident for d in detections]
        kept = [i for i, ok in enumerate(keep) if ok]
        if not kept:
            kept = [0]  # the catalog confirmed nothing: still show the detector's best guess
        detections, vectors = [detections[i] for i in kept], vectors[kept]
        depth = max(top_k, GROUP_DEPTH)  # grouping compares the top GROUP_DEPTH whatever top_k is
        if self.kinds:
            ranked = [self._ranked(*self.kinds.search(self.index, v, d.label, depth))
                      for d, v in zip(detections, vectors)]
        else:
            ranked = [[(m.product.row, m.score) for m in found] for found in self.index.search(vectors, depth)]
        if self.group_objects:
            groups = group_lookalikes([d.label for d in detections], ranked)
        else:
            groups = [[i] for i in range(len(detections))]
        objects = []
        for members in groups:
            best = detections[members[0]]
            fused = fuse_best([ranked[i] for i in members], top_k)
            box = clip_boxes(np.array([best.box]), *size)[0]
            objects.append(ObjectResult(best.label, tuple(int(round(v)) for v in box), best.score,
                                        [Match(self.index.products[row], score) for row, score in fused]))
        return objects

    def _confirmed(self, detections: list[Detection], vectors: np.ndarray, confident: float) -> list[bool]:
        """Which detections to keep: confident ones, and unsure ones the catalog agrees with."""
        unsure = [i for i, d in enumerate(detections) if d.score < confident]
        keep = [True] * len(detections)
        if unsure:
            for i, near in zip(unsure, self.index.search(vectors[unsure], VERIFY_NEIGHBOURS)):
                keep[i] = any(detections[i].label in self.kinds.of_row[m.product.row] for m in near)
        return keep

    @staticmethod
    def _ranked(scores: np.ndarray, rows: np.ndarray) -> list[tuple[int, float]]:
        return [(int(r), float(s)) for s, r in zip(scores[0], rows[0]) if r >= 0]

    def _crops(self, image: Image.Image, boxes: np.ndarray) -> list[Image.Image]:
        cut = letterbox if self.crop_style == "catalog" else crop
        boxes = clip_boxes(pad_boxes(boxes, self.crop_padding), image.width, image.height)
        return [cut(image, box, self.background) for box in boxes]


def load_engine(settings, index: CatalogIndex | None = None, encoder: Encoder | None = None) -> Engine:
    """Load the index, then the encoder it was built with (unless overridden), then the detector.

    `index` and `encoder` may be given already loaded (the app and the benchmark do), and must agree.
    """
    from .detector import load_detector
    from .encoder import load_encoder

    if index is None:
        index = CatalogIndex.load(settings.index_dir)
    if encoder is None:
        encoder = load_encoder(settings.encoder or index.manifest["encoder"]["name"], device=settings.device)
    index.check_encoder(encoder)
    kinds = product_kinds(settings, index)
    # With kinds, the catalog decides what to look for: every class it sells, and nothing else.
    classes = kinds.classes if kinds else settings.class_list
    detector = load_detector(settings.detector, classes=classes, conf=settings.conf,
                             iou=settings.iou, max_objects=settings.max_objects, imgsz=settings.imgsz,
                             device=settings.device)
    return Engine(detector, encoder, index, **engine_options(settings), kinds=kinds)


def product_kinds(settings, index: CatalogIndex) -> ProductKinds | None:
    """The index's product kinds per `settings.kinds`; None when off (empty when no product has a known kind)."""
    if settings.kinds == "off":
        return None
    if settings.kinds != "category":
        raise ValueError(f"kinds must be 'category' or 'off', got {settings.kinds!r}.")
    return ProductKinds.of_index(index, load_kind_rules(settings.kind_rules))


def engine_options(settings) -> dict:
    """The Engine keyword arguments that come from settings (all but the models, index and kinds)."""
    return {"crop_padding": settings.crop_padding, "max_pixels": settings.max_pixels,
            "crop_style": settings.crop_style, "low_conf": settings.low_conf,
            "group_objects": settings.group_objects, "detect_mirrored": settings.detect_mirrored}
