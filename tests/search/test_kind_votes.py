"""What the catalog's nearest products say of a crop's kind: their votes, and the lift they give a ranking."""

import pytest

from core.types import Match, Product
from search.kinds import kind_votes, lifted_by_kinds


@pytest.mark.parametrize(
    ("nearest", "expected"),
    [
        ([], {}),
        ([{"chair"}], {"chair": 1.0}),
        ([{"chair"}, {"chair"}], {"chair": 1.0}),  # all of one kind: a full vote
        ([{"chair"}, {"lamp"}], {"chair": 2 / 3, "lamp": 1 / 3}),  # the first counts twice the second
        ([{"lamp"}, {"chair"}, {"chair"}], {"lamp": 6 / 11, "chair": 5 / 11}),
        ([{"couch", "bed"}, set()], {"couch": 2 / 3, "bed": 2 / 3}),  # a sofa-bed votes for both; no kind, for none
    ],
)
def test_the_nearest_vote_for_their_kinds_by_rank(nearest, expected):
    assert kind_votes([frozenset(k) for k in nearest]) == pytest.approx(expected)


def test_a_ranking_is_lifted_towards_the_kinds_its_first_products_vote_for():
    kinds = {0: frozenset({"chair"}), 1: frozenset({"lamp"}), 2: frozenset({"chair"}), 3: frozenset()}
    ranked = [Match(Product(row=row, id=f"P{row}"), score) for row, score in [(0, 0.9), (1, 0.85), (2, 0.8), (3, 0.8)]]
    lifted = lifted_by_kinds(lambda m: m.score, ranked, kinds.__getitem__, 0.3)
    # Votes: chair (1 + 1/3) / (1 + 1/2 + 1/3 + 1/4), lamp 1/2 of the same; the product of no kind has no lift.
    total = 1 + 1 / 2 + 1 / 3 + 1 / 4
    assert [lifted(m) for m in ranked] == pytest.approx(
        [0.9 + 0.3 * (4 / 3) / total, 0.85 + 0.3 * 0.5 / total, 0.8 + 0.3 * (4 / 3) / total, 0.8]
    )
    assert [m.product.id for m in sorted(ranked, key=lifted, reverse=True)] == ["P0", "P2", "P1", "P3"]
