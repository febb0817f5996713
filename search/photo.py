"""What a search carries from stage to stage (search.engine): one record per photo, one per crop of it,
and the request's own context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from PIL import Image

from core.types import WHOLE_PHOTO, Detections, Filters, Match, ObjectResult, SearchResult, Where

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Request:
    """What one search asks, read once: its defaults resolved, its words and filters parsed."""

    top_k: int
    conf: float
    filters: Filters
    text_vector: np.ndarray | None = None  # (D,) the words by the encoder's text tower, where it has one
    relevance: np.ndarray | None = None  # (rows,) each product's keyword relevance to the words, where they match any
    named: np.ndarray | None = None  # the rows the words match

    @property
    def reranks(self) -> bool:
        return self.relevance is not None

    @property
    def refines(self) -> bool:
        """Whether words or filters change the product lists (never the objects found)."""
        return bool(self.filters) or self.reranks or self.text_vector is not None

    def plain(self) -> Request:
        """The request without its words and filters: what the objects found are judged by."""
        return Request(self.top_k, self.conf, Filters())

    def where(self, kinds: tuple[str, ...] = ()) -> Where:
        """The products a list of `kinds` may hold under the filters (a category filter narrows each kind's)."""
        return Where.of(self.filters, kinds=kinds)


@dataclass(eq=False)
class Crop:
    """A part of the photo that is embedded: one of the detector's boxes, or a region of the photo."""

    box: np.ndarray  # float64 (4,) pixel xyxy within the photo: the box of an object found in it
    image: Image.Image  # what the encoder sees: the box, padded, on a square of the catalog's background
    label: str | None = None  # the detector's class; None for a region
    score: float | None = None  # the detector's confidence; None for a region
    vector: np.ndarray | None = None  # (D,) its embedding
    near: list[Match] | None = None  # its nearest products in the whole catalog (with kinds)
    blank: bool = False  # a region with nothing to see in it (a plain colour, a bare wall): it shows no product


@dataclass(eq=False)
class Photo:
    """One photo's way through the pipeline: each stage reads what the earlier ones filled in."""

    image: Image.Image
    request: Request
    selection: tuple[int, int, int, int] | None = None  # the region the user chose: searched alone, no detector
    detections: Detections = field(default_factory=Detections.empty)
    found: list[Crop] = field(default_factory=list)  # the detections' crops, best first
    # The whole photo first, then its halves and centre; or the user's selection alone.
    regions: list[Crop] = field(default_factory=list)
    objects: list[ObjectResult] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # the labels of the objects the filters left without a product

    @property
    def crops(self) -> list[Crop]:
        return self.found + self.regions

    def result(self, timings: dict[str, float]) -> SearchResult:
        """What the search answers for this photo, once its objects are found."""
        whole = all(o.label == WHOLE_PHOTO for o in self.objects)
        blank = self.selection is None and self.regions[0].blank
        return SearchResult(self.objects, whole, self.image.size, dict(timings), tuple(self.hidden), blank)


def vectors_of(crops: list[Crop]) -> np.ndarray:
    """The crops' embeddings, (N, D)."""
    return np.stack([_filled(crop.vector) for crop in crops])


def label_of(crop: Crop) -> str:
    """A detection's class: asked of the detections' crops alone (a region has none)."""
    return _filled(crop.label)


def near_of(crop: Crop) -> list[Match]:
    """A crop's nearest products in the whole catalog: asked only with kinds, once they were searched."""
    return _filled(crop.near)


def _filled(value: T | None) -> T:
    """What an earlier stage of the search (search.engine) filled in, read by a later one."""
    assert value is not None, "a stage read what an earlier one had not filled in"
    return value
