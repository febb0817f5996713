"""The pipeline before the quality work, kept to compare against (`python -m bench.quality --naive`).

Every class of the detector at confidence 0.25 (up to 300 boxes), each box cut out as it is, one
product list per box over the whole catalog; the whole photo, cut as it is, when nothing was found.
None of the product's steps (kinds, the catalog's agreement, square crops on the catalog's background,
the mirrored look, grouping, the catalog's own kinds, the whole photo beside few objects) is taken.
"""

from __future__ import annotations

import numpy as np

from core.boxes import clip_boxes, crop, photo_regions
from core.images import WHITE, load_image
from core.protocols import ImageEncoder, ObjectDetector
from core.types import WHOLE_PHOTO, Detections, ObjectResult, SearchResult
from index.catalog_index import CatalogIndex
from search.grouping import DEPTH as GROUP_DEPTH
from search.grouping import fuse_best

CONF = 0.25
MAX_OBJECTS = 300  # the detector's box limit, as its models were loaded with (ModelSettings.max_objects)


class NaiveSearch:
    """`Engine.search`'s signature and result over the naive pipeline; `detector` None: the whole photo alone."""

    kinds = None  # every box searches the whole catalog

    def __init__(self, detector: ObjectDetector | None, encoder: ImageEncoder, index: CatalogIndex):
        self.detector, self.encoder, self.index = detector, encoder, index
        self.labels = tuple(detector.names.values()) if detector else ()
        self.background = index.manifest.background or WHITE

    def search(self, photo, top_k: int) -> SearchResult:
        image = load_image(photo)
        width, height = image.size
        found = (
            self.detector.detect([image], conf=CONF, classes=self.labels)[0] if self.detector else Detections.empty()
        )
        boxes = clip_boxes(found.boxes, width, height)
        whole = clip_boxes(photo_regions(width, height)[:1], width, height)
        vectors = self.encoder.embed_images([crop(image, box, self.background) for box in (*boxes, *whole)])
        kept = np.argsort(-found.scores, kind="stable")
        objects = []
        if len(kept):
            ranked = self.index.search(vectors[kept], max(top_k, GROUP_DEPTH))
            objects = [
                ObjectResult(
                    found.labels[i],
                    tuple(round(float(v)) for v in boxes[i]),
                    float(found.scores[i]),
                    fuse_best([products], top_k),
                )
                for i, products in zip(kept, ranked)
            ]
        if not objects:
            [products] = self.index.search(vectors[-1:], top_k)
            objects = [ObjectResult(WHOLE_PHOTO, (0, 0, width, height), None, products)]
        return SearchResult(objects, not len(kept), image.size)
