"""The one search call used by the app, the API, the CLI and the benchmarks, and the one way to load it."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image, ImageOps

from core.images import ImageInput, load_image
from core.settings import Settings, SettingsError
from core.types import WHOLE_PHOTO, Detections, ObjectResult, SearchResult
from index.ensure import ensure_index
from index.store import CatalogIndex
from models.detector import Detector, load_detector
from models.encoder import Encoder
from models.runtime import set_threads

from .boxes import clip_boxes, crop, letterbox, mirror_boxes, nms, pad_boxes, photo_regions
from .grouping import DEPTH as GROUP_DEPTH
from .grouping import fuse_best, group_lookalikes
from .kinds import ProductKinds, load_kind_rules

WHITE = (255, 255, 255)
# An unsure detection is kept when a product of its kind is among the crop's nearest this many
# in the whole catalog: the catalog's own photos vouch for what the detector half-saw.
VERIFY_NEIGHBOURS = 10
# How many of each crop's nearest products of the catalog's own kinds are weighed to find its kinds.
OTHER_DEPTH = 20


class Engine:
    """The models and the index, run as `settings` say; `search` is safe to call from several threads.

    With kinds (`settings.kinds`, from the catalog's categories), each object is searched among the
    products of its kind, the detector looks only for the classes the catalog sells, and detections
    scoring between `settings.low_conf` and the confidence threshold are kept only when the catalog
    agrees: one of the crop's nearest catalog products is of the detected kind. The catalog's
    kinds no detector class covers are looked for in the photo's regions too (`settings.other_kinds`),
    and the whole photo is one more object when few were found (`settings.whole_photo_upto`).
    Without a detector, the whole photo is the query.
    """

    def __init__(self, detector: Detector | None, encoder: Encoder, index: CatalogIndex,
                 settings: Settings | None = None):
        settings = settings or Settings()
        self.detector, self.encoder, self.index, self.settings = detector, encoder, index, settings
        kinds = None
        if settings.kinds == "category":
            kinds = ProductKinds.of_products(index.products, load_kind_rules(settings.kind_rules))
        self.kinds = kinds if kinds else None  # a catalog without any known kind searches everything
        self.labels = self._labels()
        # Each product of the catalog's own kinds (no detector class) -> its kind, when the engine looks for them.
        wanted = detector is not None and self.kinds and self.kinds.others and settings.other_kinds
        self._other_kind_of_row = {int(row): noun for noun, rows in self.kinds.others.items()
                                   for row in rows} if wanted else {}
        self._other_rows = np.fromiter(self._other_kind_of_row, np.int64) if wanted else None
        self.background = index.manifest.background or WHITE

    def _labels(self) -> tuple[str, ...]:
        """The detector classes this engine looks for: with kinds, every class the catalog sells."""
        if self.detector is None:
            return ()
        names = tuple(self.detector.names.values())
        wanted = self.kinds.classes if self.kinds else self.settings.class_list
        if wanted is None:
            return names
        if not set(wanted) & set(names):
            raise SettingsError(f"None of the classes {list(wanted)} is known to the detector "
                                f"{self.settings.detector}; it knows {sorted(names)}.")
        return tuple(c for c in wanted if c in names)

    def search(self, photo: ImageInput, top_k: int | None = None, conf: float | None = None) -> SearchResult:
        """Detect objects in `photo`, embed each crop, and return each object's top-`k` products.

        `top_k` and `conf` default to the settings'.
        """
        top_k = self.settings.top_k if top_k is None else top_k
        conf = self.settings.conf if conf is None else conf
        timings = {}
        t0 = time.perf_counter()
        image = load_image(photo, self.settings.max_pixels)
        detections = self._detect(image, conf)
        regions = photo_regions(*image.size)[: 1 if self._other_rows is None else None]
        t1 = time.perf_counter()
        timings["detect"] = (t1 - t0) * 1000

        vectors = self.encoder.embed_images(self._crops(image, detections.boxes) +
                                            self._crops(image, regions, padding=0.0))
        t2 = time.perf_counter()
        box_vectors, region_vectors = vectors[: len(detections)], vectors[len(detections):]
        objects = self._match(detections, box_vectors, conf, top_k, image.size) if len(detections) else []
        detected = len(objects)
        if self._other_rows is not None:
            objects += self._other_kinds(np.concatenate([box_vectors, region_vectors]),
                                         np.concatenate([clip_boxes(detections.boxes, *image.size), regions]), top_k)
        if detected <= self.settings.whole_photo_upto:  # 0 <= upto: always when nothing was found
            [matches] = self.index.search(region_vectors[:1], top_k)
            whole = ObjectResult(WHOLE_PHOTO, (0, 0, image.width, image.height), None, matches)
            # One object found or none: the photo is most likely of one product, so the whole photo leads.
            objects.insert(0 if detected <= 1 else len(objects), whole)
        timings["embed"] = (t2 - t1) * 1000
        timings["search"] = (time.perf_counter() - t2) * 1000
        timings = {k: round(v, 1) for k, v in timings.items()}
        only_whole = all(o.label == WHOLE_PHOTO for o in objects)
        return SearchResult(objects, only_whole, image.size, timings)

    def _detect(self, image: Image.Image, conf: float) -> Detections:
        if self.detector is None:
            return Detections.empty()
        s = self.settings
        floor = min(s.low_conf, conf) if self.kinds else conf
        found = self.detector.detect(image, conf=floor, classes=self.labels)
        if s.detect_mirrored:
            # A second look at the mirrored photo finds objects the first pass scored too low.
            mirrored = self.detector.detect(ImageOps.mirror(image), conf=floor, classes=self.labels)
            found += Detections(mirror_boxes(mirrored.boxes, image.width), mirrored.scores, mirrored.labels)
            found = found[nms(found.boxes, found.scores, found.labels, s.iou)[: s.max_objects]]
        if self.kinds:
            found = found[[label in self.kinds for label in found.labels]]
        return found

    def _match(self, detections: Detections, vectors: np.ndarray, conf: float, top_k: int,
               size: tuple[int, int]) -> list[ObjectResult]:
        keep = self._confirmed(detections, vectors, conf) if self.kinds else detections.scores >= conf
        kept = np.flatnonzero(keep)
        if not len(kept):
            kept = [0]  # the catalog confirmed nothing: still show the detector's best guess
        detections, vectors = detections[kept], vectors[kept]
        depth = max(top_k, GROUP_DEPTH)  # grouping compares the top GROUP_DEPTH whatever top_k is
        if self.kinds:
            ranked = [self.index.search(vectors[i:i + 1], depth, rows=self.kinds.rows[label])[0]
                      for i, label in enumerate(detections.labels)]
        else:
            ranked = self.index.search(vectors, depth)
        if self.settings.group_objects:
            groups = group_lookalikes(detections.labels, ranked)
        else:
            groups = [[i] for i in range(len(detections))]
        boxes = clip_boxes(detections.boxes, *size)
        objects = []
        for members in groups:
            best = members[0]
            objects.append(ObjectResult(detections.labels[best], tuple(int(round(v)) for v in boxes[best]),
                                        float(detections.scores[best]), fuse_best([ranked[i] for i in members], top_k)))
        return objects

    def _other_kinds(self, vectors: np.ndarray, boxes: np.ndarray, top_k: int) -> list[ObjectResult]:
        """Objects of the catalog's kinds that no detector class covers, seen in any of the crops.

        Every crop (the detections' and the photo's regions) is compared with those products; the
        kinds are taken in the order of their best single match, one object each, the crop of that
        match as its box.
        """
        pairs = [(m.score, q, self._other_kind_of_row[m.product.row])
                 for q, near in enumerate(self.index.search(vectors, OTHER_DEPTH, rows=self._other_rows))
                 for m in near]
        objects, taken = [], set()
        for _, q, noun in sorted(pairs, key=lambda p: -p[0]):
            if len(objects) == self.settings.other_kinds:
                break
            if noun not in taken:
                taken.add(noun)
                [matches] = self.index.search(vectors[q:q + 1], top_k, rows=self.kinds.others[noun])
                objects.append(ObjectResult(noun, tuple(int(round(v)) for v in boxes[q]), None, matches))
        return objects

    def _confirmed(self, detections: Detections, vectors: np.ndarray, conf: float) -> np.ndarray:
        """Which detections to keep: confident ones, and unsure ones the catalog agrees with."""
        keep = detections.scores >= conf
        unsure = np.flatnonzero(~keep)
        if len(unsure):
            for i, near in zip(unsure, self.index.search(vectors[unsure], VERIFY_NEIGHBOURS)):
                keep[i] = any(detections.labels[i] in self.kinds.of_row[m.product.row] for m in near)
        return keep

    def _crops(self, image: Image.Image, boxes: np.ndarray, padding: float | None = None) -> list[Image.Image]:
        cut = letterbox if self.settings.crop_style == "catalog" else crop
        padding = self.settings.crop_padding if padding is None else padding
        boxes = clip_boxes(pad_boxes(boxes, padding), image.width, image.height)
        return [cut(image, box, self.background) for box in boxes]


def load_engine(settings: Settings, *, build_index: bool = False, progress: bool = True) -> Engine:
    """The pipeline `settings` describe: the index (built first with `build_index`, see
    `index.ensure.ensure_index`), the encoder it was built with (unless the settings name one),
    and the detector."""
    set_threads(settings.threads)
    index, encoder = ensure_index(settings, build=build_index, progress=progress)
    return Engine(load_detector(settings), encoder, index, settings)
