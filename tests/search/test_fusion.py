"""Reciprocal rank fusion of two rankings."""

import pytest

from core.types import Match, Product
from search.fusion import fuse_rankings


def _ranking(*ids):
    return [Match(Product(row=i, id=pid), 0.0) for i, pid in enumerate(ids)]


@pytest.mark.parametrize(
    "rankings, expected",
    [
        ([_ranking("a", "b", "c")], ["a", "b", "c"]),
        ([_ranking("a", "b"), _ranking("b", "c")], ["b", "a", "c"]),  # b is in both
        ([_ranking("a", "b"), _ranking("c", "d")], ["a", "c", "b", "d"]),  # ties keep the first ranking's order
        ([_ranking("a"), []], ["a"]),
    ],
)
def test_products_in_both_rankings_rise(rankings, expected):
    assert [m.product.id for m in fuse_rankings(rankings, 10)] == expected


def test_scores_are_one_for_first_everywhere_and_fall_with_rank():
    fused = fuse_rankings([_ranking("a", "b", "c"), _ranking("a", "c", "b")], 2)
    assert len(fused) == 2 and fused[0].score == pytest.approx(1.0) and 0 < fused[1].score < 1
