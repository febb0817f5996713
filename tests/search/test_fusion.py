"""Reciprocal rank fusion of two rankings."""

import numpy as np
import pytest

from core.types import Match, Product
from search.fusion import fuse_rankings, row_lifts


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


@pytest.mark.parametrize(
    ("popularity", "popularity_weight", "hubness", "hub_weight", "expected"),
    [
        ([1.0, None, 3.0], 0.0, None, 0.5, None),  # neither asked for
        ([1.0, None, 3.0], 0.2, None, 0.0, [0.1, 0.0, 0.2]),  # popularity percentiles, 0 where unknown
        ([None, None], 0.2, np.array([0.4, 0.8], np.float32), 0.5, [-0.2, -0.4]),  # no popularity known
        ([1.0, 3.0], 0.2, np.array([0.4, 0.8], np.float32), 0.5, [-0.1, -0.2]),  # both
        ([1.0, 3.0], 0.0, np.array([0.4, 0.8], np.float32), 0.0, None),  # hubness measured, weighed 0
    ],
)
def test_a_rows_lift_is_its_popularity_less_its_hubness(popularity, popularity_weight, hubness, hub_weight, expected):
    lifts = row_lifts(popularity, popularity_weight, hubness, hub_weight)
    assert lifts is None if expected is None else lifts == pytest.approx(expected)
