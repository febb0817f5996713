"""An index's own similarity scale, measured when it is built, so that "close" means the same for any encoder.

Cosine similarities mean different things for different encoders (CLIP's photos of unrelated
products score 0.5, MobileNetV2's 0.3). Two anchors are taken from the catalog itself: how similar
a product is to an unrelated one (the median over random pairs), and to its nearest other product
(the median over products). A match's closeness is where its similarity lies between the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .backend import VectorBackend

SAMPLE = 1000  # products the anchors are measured on; enough for a median to within ~0.01
NEIGHBOURS = 16  # looked through for the nearest product other than the product itself (its other photos)


@dataclass(frozen=True)
class Calibration:
    unrelated: float  # median similarity of two random products of the catalog
    near: float  # median similarity of a product to its nearest other product

    def closeness(self, score: float) -> float:
        """`score` on the index's scale: 0 at or below unrelated products, 1 at or above typical neighbours."""
        return float(np.clip((score - self.unrelated) / max(self.near - self.unrelated, 1e-6), 0.0, 1.0))


def calibrate(vectors: VectorBackend, product_ids: Sequence[str], seed: int = 0) -> Calibration | None:
    """The anchors of `vectors` (by row, of the products `product_ids`); None for fewer than 2 products."""
    if len(set(product_ids)) < 2:
        return None
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(product_ids), size=min(SAMPLE, len(product_ids)), replace=False)
    sample = vectors.sample(rows)
    scores, ids = vectors.search(sample, min(NEIGHBOURS, len(vectors)))
    found = [
        next((s for s, i in zip(row_scores, row_ids) if i >= 0 and product_ids[i] != product_ids[row]), None)
        for row, row_scores, row_ids in zip(rows, scores, ids)
    ]
    nearest = [s for s in found if s is not None]
    # Random pairs: each sampled product with another of the sample, pairs of one product left out.
    order = rng.permutation(len(rows))
    differ = np.array([product_ids[a] != product_ids[b] for a, b in zip(rows, rows[order])])
    unrelated = np.einsum("nd,nd->n", sample, sample[order])[differ]
    return Calibration(unrelated=float(np.median(unrelated)), near=float(np.median(nearest)) if nearest else 1.0)
