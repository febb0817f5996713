"""Rankings of products: several made into one by reciprocal rank fusion (Cormack et al. 2009), a ranking
with each product once, and what lifts a catalog photo whatever the query (its popularity, as a
percentile, that breaks near-ties; less its hubness).

Ranks, not scores, are fused: BM25 scores and cosine similarities have no common scale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

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


def distinct(matches: list[Match], k: int) -> list[Match]:
    """`matches` with each product once (its first photo), at most `k`."""
    seen: set[str] = set()
    kept: list[Match] = []
    for match in matches:
        if match.product.id not in seen and len(kept) < k:
            seen.add(match.product.id)
            kept.append(match)
    return kept


def percentiles(values: list[float | None]) -> np.ndarray | None:
    """Each value's percentile among the known ones, in [0, 1]; 0 for unknown; None when none is known."""
    known = np.array([v if v is not None else np.nan for v in values], np.float64)
    finite = np.isfinite(known)
    if not finite.any():
        return None
    ordered = np.sort(known[finite])
    found = np.zeros(len(values))
    found[finite] = np.searchsorted(ordered, known[finite], side="right") / len(ordered)
    return found


def row_lifts(
    popularity: list[float | None], popularity_weight: float, hubness: np.ndarray | None, hub_weight: float
) -> np.ndarray | None:
    """What each catalog row's similarity is lifted by before ranking, whatever the query: `popularity_weight`
    times its popularity percentile, less `hub_weight` times its photo's hubness (`index.store.hubness`);
    None when neither applies."""
    known = percentiles(popularity) if popularity_weight else None
    lifts = popularity_weight * known if known is not None else None
    if hubness is not None and hub_weight:
        lifts = (0.0 if lifts is None else lifts) - hub_weight * hubness.astype(np.float64)
    return lifts


def order_key(relevance: np.ndarray | None, words_weight: float, lifts: np.ndarray | None) -> Callable[[Match], float]:
    """What a product list is ordered by: the similarity, plus `words_weight` times the words' `relevance` of
    its row, plus the row's own lift (`row_lifts`)."""

    def key(match: Match) -> float:
        row = match.product.row
        return (
            match.score
            + (words_weight * relevance[row] if relevance is not None else 0.0)
            + (lifts[row] if lifts is not None else 0.0)
        )

    return key
