"""Several rankings of the same products made into one, by reciprocal rank fusion (Cormack et al. 2009).

Ranks, not scores, are fused: BM25 scores and cosine similarities have no common scale.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.types import Match, Product

RRF_K = 60  # the constant of the paper: damps the weight of the very first ranks


def fuse_rankings(rankings: Sequence[Sequence[Match]], k: int) -> list[Match]:
    """The top `k` products of all `rankings`, each scored by its fused rank score scaled to (0, 1]
    (1: first in every ranking)."""
    scores: dict[str, float] = {}
    products: dict[str, Product] = {}
    for ranking in rankings:
        for rank, match in enumerate(ranking, start=1):
            key = match.product.id
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank)
            products.setdefault(key, match.product)
    best = len(rankings) / (RRF_K + 1)
    ranked = sorted(scores, key=lambda key: -scores[key])[:k]
    return [Match(products[key], scores[key] / best) for key in ranked]
