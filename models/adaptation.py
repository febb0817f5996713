"""A catalog's adaptation of an encoder: a learnt linear map of its embeddings (`python -m train adapt`).

The encoder stays frozen; its embeddings of the catalog's photos and of the queries' crops both go
through the same map, so that a product seen in a room lands nearer its catalog photo.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from core.errors import LookalikeError
from core.types import EncoderInfo


class AdaptationError(LookalikeError):
    """An adaptation that does not fit the encoder or the index it is used with."""


@dataclass(frozen=True, eq=False)
class Adaptation:
    """x -> normalise((x - mean) @ matrix): `mean` float32 (D,), `matrix` float32 (D, D)."""

    mean: np.ndarray
    matrix: np.ndarray

    def __post_init__(self) -> None:
        if self.mean.ndim != 1 or self.matrix.shape != (len(self.mean), len(self.mean)):
            raise AdaptationError(
                f"An adaptation is a mean (D,) and a matrix (D, D); got {self.mean.shape} and {self.matrix.shape}."
            )
        if not (np.isfinite(self.mean).all() and np.isfinite(self.matrix).all()):
            raise AdaptationError("The adaptation holds values that are not finite numbers.")

    @property
    def dim(self) -> int:
        return len(self.mean)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """(N, D) embeddings -> L2-normalised float32 (N, D)."""
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise AdaptationError(
                f"Embeddings of shape {vectors.shape} do not fit an adaptation of dimension {self.dim}."
            )
        out = (vectors - self.mean) @ self.matrix
        return np.ascontiguousarray(out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12), np.float32)

    @classmethod
    def identity(cls, dim: int) -> Adaptation:
        return cls(np.zeros(dim, np.float32), np.eye(dim, dtype=np.float32))


class IndexEncoder:
    """An encoder made for one index out of the frozen encoder `base` and what the index stores of its
    catalog (`adaptation`: a map here, a tuned block in `models.tuning`). It identifies itself as the
    frozen encoder (`probe`, `describe`), which the index checks it against."""

    base: Any  # a models.encoder.Encoder, or a fake of one in tests
    adaptation: object

    def probe(self) -> np.ndarray:
        return self.base.probe()

    def describe(self) -> EncoderInfo:
        return self.base.describe()


class AdaptedEncoder(IndexEncoder):
    """An encoder whose every embedding, of images and of words, goes through `adaptation`: the encoder
    an adapted index is searched with (`index.catalog_index.CatalogIndex.query_encoder`)."""

    adaptation: Adaptation

    def __init__(self, base, adaptation: Adaptation):
        if adaptation.dim != base.dim:
            raise AdaptationError(
                f"The adaptation maps {adaptation.dim}-d embeddings; the encoder {base.name!r} makes {base.dim}-d ones."
            )
        self.base, self.adaptation = base, adaptation
        self.name, self.dim, self.device, self.reads_text = base.name, base.dim, base.device, base.reads_text

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.adaptation.apply(self.base.embed_images(images))

    def prepare(self, images: Sequence[Image.Image]):
        return self.base.prepare(images)

    def embed_prepared(self, prepared) -> np.ndarray:
        return self.adaptation.apply(self.base.embed_prepared(prepared))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        # CLIP's words share its images' space; the catalog's vectors are mapped, so words must be too.
        return self.adaptation.apply(self.base.embed_texts(texts))
