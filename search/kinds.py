"""What the catalog's nearest products say of a crop's kind: whether they agree it is of a kind a detector
named, and which kinds a region searched across every kind leans to."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from core.types import Match

# The catalog's agreement that a crop shows a kind is read from its nearest this many catalog products.
AGREEMENT_NEIGHBOURS = 10
# A ranking across every kind is lifted towards the kinds of this many of its first products.
KIND_VOTERS = 10


def agreement(
    near: Sequence[Sequence[Match]], kinds: Sequence[str], is_of: Callable[[int, str], bool], weight: float
) -> np.ndarray:
    """The catalog's agreement that each crop shows its kind: `weight` times (11 - r) / 10, where r is the
    rank (1 to 10) of the first product of that kind among the crop's 10 nearest in the whole catalog
    (`near`); 0 when none of them is of it. `is_of(row, kind)`: whether a catalog row is of a kind."""
    ranks = [
        next((r for r, m in enumerate(found) if is_of(m.product.row, kind)), AGREEMENT_NEIGHBOURS)
        for kind, found in zip(kinds, near)
    ]  # from 0; AGREEMENT_NEIGHBOURS for none
    return weight * (AGREEMENT_NEIGHBOURS - np.asarray(ranks, np.float64)) / AGREEMENT_NEIGHBOURS


def kind_votes(nearest: Sequence[frozenset[str]]) -> dict[str, float]:
    """Each kind's share of the `nearest` products' kinds (nearest first), each product weighted 1/rank:
    1 for a kind every one of them is of, 0 for one none is. A product of two kinds votes for both."""
    weights = [1.0 / rank for rank in range(1, len(nearest) + 1)]
    total = sum(weights)
    votes: dict[str, float] = {}
    for weight, kinds in zip(weights, nearest):
        for kind in kinds:
            votes[kind] = votes.get(kind, 0.0) + weight / total
    return votes


def lifted_by_kinds(
    key: Callable[[Match], float], ranked: Sequence[Match], kinds_of: Callable[[int], frozenset[str]], weight: float
) -> Callable[[Match], float]:
    """`key` plus `weight` times the vote (`kind_votes`) of the first KIND_VOTERS of `ranked` (nearest first)
    for the match's best-voted kind: a close-up of a chair has chairs among its nearest, which lifts the
    chairs further down above the lamps and rugs that look alike. `kinds_of`: a catalog row's kinds."""
    votes = kind_votes([kinds_of(m.product.row) for m in ranked[:KIND_VOTERS]])

    def lifted(match: Match) -> float:
        return key(match) + weight * max((votes.get(kind, 0.0) for kind in kinds_of(match.product.row)), default=0.0)

    return lifted
