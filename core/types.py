"""The values that pass between the layers: products and matches, detections, search results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

WHOLE_PHOTO = "whole photo"  # the label of the one query made from the whole photo
SELECTION = "your selection"  # the label of the region a user chose (a box), searched without a detector


@dataclass(frozen=True)
class Product:
    row: int
    id: str
    name: str | None = None
    category: str | None = None
    price: float | str | None = None
    link: str | None = None
    image: str | None = None  # the thumbnail: relative to the version directory on disk, absolute once loaded
    popularity: float | None = None  # from the catalog's rating or popularity column, where it has one
    attributes: dict[str, str] = field(default_factory=dict)  # the catalog's other text columns: colour, description...


@dataclass(frozen=True)
class Filters:
    """What a shopper narrows the products to; the defaults narrow nothing."""

    categories: tuple[str, ...] = ()  # the catalog's own category values; () for every category
    min_price: float | None = None
    max_price: float | None = None

    def __bool__(self) -> bool:
        return bool(self.categories) or self.min_price is not None or self.max_price is not None


@dataclass(frozen=True, eq=False)
class Where:
    """Which catalog rows a vector search may return: all of what is given holds; the defaults keep every row.

    Declarative, so that each vector backend translates it into its own filter (a FAISS id selector,
    a database's payload filter) rather than being handed a list of rows.
    """

    kinds: tuple[
        str, ...
    ] = ()  # products of any of these kinds (index.store.kinds): detector classes or the catalog's own
    categories: tuple[str, ...] = ()  # the catalog's own category values
    min_price: float | None = None  # a product without a price is out of every price range
    max_price: float | None = None
    rows: np.ndarray | None = None  # int64 rows, where a search is narrowed to given products (those words name)

    @classmethod
    def of(cls, filters: Filters, **narrower) -> Where:
        """The rows a shopper's `filters` keep, narrowed further by `narrower` (kinds, rows)."""
        return cls(categories=filters.categories, min_price=filters.min_price, max_price=filters.max_price, **narrower)

    def __bool__(self) -> bool:
        return (
            bool(self.kinds or self.categories)
            or self.min_price is not None
            or self.max_price is not None
            or self.rows is not None
        )


@dataclass(frozen=True)
class EncoderInfo:
    """What identifies an encoder's embedding space; an index records it to refuse another encoder."""

    name: str
    model_type: str
    pooling: str
    dim: int


@dataclass(frozen=True)
class Match:
    product: Product
    score: float  # cosine similarity in [-1, 1]


@dataclass(frozen=True, eq=False)
class Detections:
    """The objects found in one photo, in the detector's order (best first).

    boxes: float64 (N, 4) pixel xyxy in the photo; scores: float64 (N,); labels: N class names.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: tuple[str, ...]

    def __post_init__(self):
        boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if not len(boxes) == len(scores) == len(self.labels):
            raise ValueError(f"{len(boxes)} boxes, {len(scores)} scores and {len(self.labels)} labels do not match.")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "labels", tuple(self.labels))

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), ())

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, keep: Sequence[int] | np.ndarray) -> Detections:
        """The detections at the indices (or where the mask is true) in `keep`, in that order."""
        keep = np.asarray(keep)
        keep = np.flatnonzero(keep) if keep.dtype == bool else keep.astype(np.int64).reshape(-1)
        return Detections(self.boxes[keep], self.scores[keep], tuple(self.labels[i] for i in keep))

    def __add__(self, other: Detections) -> Detections:
        return Detections(
            np.concatenate([self.boxes, other.boxes]),
            np.concatenate([self.scores, other.scores]),
            self.labels + other.labels,
        )


@dataclass(frozen=True)
class ObjectResult:
    label: str
    box: tuple[int, int, int, int]  # pixel xyxy in the (EXIF-rotated) photo
    # In [0, 1): what the object was accepted on, against `conf` (search.engine.Engine); None for the
    # whole photo, which is searched, not scored.
    score: float | None
    products: list[Match]
    # How close the best product is, in [0, 1] on the index's own calibrated scale (index.vectors.calibration);
    # None when there is no product to judge.
    closeness: float | None = None
    close_match: bool | None = None  # closeness reaches the index's "close" level


@dataclass(frozen=True)
class SearchResult:
    objects: list[ObjectResult]
    whole_image: bool  # the whole photo is the only query: nothing else was found
    image_size: tuple[int, int]
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The labels of the objects found that the filters left without a product (a couch under "Chairs"): not listed.
    hidden: tuple[str, ...] = ()
    blank: bool = False  # the photo shows nothing to search: a plain colour, a bare wall

    def to_dict(self) -> dict:
        return {
            "objects": [
                {
                    "label": o.label,
                    "box": list(o.box),
                    "score": o.score,
                    "closeness": o.closeness,
                    "close_match": o.close_match,
                    "products": [{**asdict(m.product), "score": m.score} for m in o.products],
                }
                for o in self.objects
            ],
            "whole_image": self.whole_image,
            "image_size": list(self.image_size),
            "hidden": list(self.hidden),
            "blank": self.blank,
            "timings_ms": self.timings_ms,
        }


@dataclass(frozen=True)
class TextResult:
    words: str  # the words searched, price phrases taken out (they became `filters`)
    filters: Filters
    products: list[Match]  # score: the fused rank score in (0, 1], 1 for first in every ranking
    matched_by: tuple[str, ...]  # the rankings fused: "keywords" (the catalog's text), "photos" (a text tower)
    timings_ms: dict[str, float] = field(default_factory=dict)
    unknown_words: tuple[str, ...] = ()  # the words no product's text holds ("bookcase" where none is sold)

    def to_dict(self) -> dict:
        return {
            "words": self.words,
            "filters": asdict(self.filters),
            "products": [{**asdict(m.product), "score": m.score} for m in self.products],
            "matched_by": list(self.matched_by),
            "unknown_words": list(self.unknown_words),
            "timings_ms": self.timings_ms,
        }
