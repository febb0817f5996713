"""What the engine needs of its two models: the real ones (`models/`) and the tests' fakes both are these."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image

from .types import Detections, EncoderInfo


@runtime_checkable
class ObjectDetector(Protocol):
    names: dict[int, str]  # class id -> class name: what it can find
    iou: float  # the NMS IoU its boxes were kept at, which the boxes of several looks are merged at too
    max_objects: int  # the most boxes it keeps per photo

    @property
    def knows_catalog_kinds(self) -> bool:
        """Its classes include the catalog's own kinds (a catalog or open-vocabulary detector). Read only: a
        detector may work it out (`models.detector.Detector`)."""

    def detect(
        self, images: Sequence[Image.Image], *, conf: float, classes: Collection[str] | None
    ) -> list[Detections]:
        """For each of `images` (RGB), its boxes of `classes` (names; None: all) scoring at least `conf`,
        best first."""


@runtime_checkable
class ImageEncoder(Protocol):
    name: str
    dim: int
    device: str
    reads_text: bool  # whether `embed_texts` puts words in the images' space (a CLIP-family model)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """`images` (RGB) -> L2-normalised float32 (N, D)."""

    def prepare(self, images: Sequence[Image.Image]) -> object:
        """What the model reads of `images`: `embed_prepared(prepare(x))` is `embed_images(x)`."""

    def embed_prepared(self, prepared) -> np.ndarray:
        """What `prepare` made -> L2-normalised float32 (N, D)."""

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """`texts` -> L2-normalised float32 (N, D) in the images' space; an error where not `reads_text`."""

    def probe(self) -> np.ndarray:
        """The embedding of a fixed synthetic image: equal only for the same weights and preprocessing."""

    def describe(self) -> EncoderInfo:
        """What identifies its embedding space, recorded by an index to refuse another encoder."""
