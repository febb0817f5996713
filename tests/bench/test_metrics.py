"""Hand-worked cases for bench.metrics; the arithmetic is in the comments."""

import pytest

from bench.metrics import (
    RetrievalScores,
    average_precision,
    distinct_at,
    merge_rankings,
    scene_hits,
    scene_recall,
    top_k_union,
)


@pytest.mark.parametrize(
    "rankings, expected",
    [
        ([], []),
        ([["a", "b", "c"]], ["a", "b", "c"]),
        # rank 1: a, c; rank 2: b, d
        ([["a", "b"], ["c", "d"]], ["a", "c", "b", "d"]),
        # uneven lengths: rank 1: a, d; ranks 2-3 only from the first query
        ([["a", "b", "c"], ["d"]], ["a", "d", "b", "c"]),
        # rank 1: a, b; rank 2: b (seen), a (seen)
        ([["a", "b"], ["b", "a"]], ["a", "b"]),
        # rank 1: x, x (dropped); rank 2: a, b
        ([["x", "a"], ["x", "b"]], ["x", "a", "b"]),
        # an empty query is skipped
        ([[], ["x"]], ["x"]),
        # duplicate inside one query
        ([["a", "a", "b"]], ["a", "b"]),
    ],
)
def test_merge_rankings(rankings, expected):
    assert merge_rankings(rankings) == expected


@pytest.mark.parametrize(
    "rankings, relevant, k, hits, recall",
    [
        # top-1 {a}: 1 of {a, b}
        ([["a", "x", "b"]], {"a", "b"}, 1, 1, 1 / 2),
        # top-2 {a, x}: still 1 of 2
        ([["a", "x", "b"]], {"a", "b"}, 2, 1, 1 / 2),
        # top-3 {a, x, b}: 2 of 2
        ([["a", "x", "b"]], {"a", "b"}, 3, 2, 1.0),
        # two queries, top-1 union {x, b}: 1 of {a, b, c}
        ([["x", "a"], ["b", "y"]], {"a", "b", "c"}, 1, 1, 1 / 3),
        # top-2 union {x, a, b, y}: 2 of 3
        ([["x", "a"], ["b", "y"]], {"a", "b", "c"}, 2, 2, 2 / 3),
        # k larger than the list: top-100 of [a] is [a], 1 of 2
        ([["a"]], {"a", "b"}, 100, 1, 1 / 2),
        # the same id from two queries is one hit, not two
        ([["a"], ["a"]], {"a", "b"}, 1, 1, 1 / 2),
        # no queries at all (nothing detected)
        ([], {"a"}, 10, 0, 0.0),
        # one query that returned nothing
        ([[]], {"a"}, 10, 0, 0.0),
    ],
)
def test_hits_and_recall(rankings, relevant, k, hits, recall):
    assert scene_hits(rankings, relevant, k) == hits
    assert scene_recall(rankings, relevant, k) == pytest.approx(recall)


@pytest.mark.parametrize(
    "rankings, k, expected",
    [
        # top-1 union {a, b}
        ([["a", "b", "c"], ["b", "d"]], 1, 2),
        # top-2 union {a, b, d}
        ([["a", "b", "c"], ["b", "d"]], 2, 3),
        # top-3 union {a, b, c, d}
        ([["a", "b", "c"], ["b", "d"]], 3, 4),
        # k beyond every list: still the 4 ids
        ([["a", "b", "c"], ["b", "d"]], 10, 4),
        ([], 10, 0),
    ],
)
def test_distinct_at(rankings, k, expected):
    assert distinct_at(rankings, k) == expected


@pytest.mark.parametrize(
    "rankings, relevant, expected",
    [
        # hits at 1 and 3: (1/1 + 2/3) / 2 = 5/6
        ([["a", "x", "b"]], {"a", "b"}, (1 / 1 + 2 / 3) / 2),
        # hits at 2 and 4: (1/2 + 2/4) / 2 = 1/2
        ([["x", "a", "y", "b"]], {"a", "b"}, 1 / 2),
        ([["a", "b"]], {"a", "b"}, 1.0),
        # b and c never returned count 0: (1/1) / 3
        ([["a"]], {"a", "b", "c"}, 1 / 3),
        ([], {"a"}, 0.0),
        # interleaved list [x, b, a, y]: hits at 2 and 3: (1/2 + 2/3) / 2 = 7/12
        # (concatenating instead, [x, a, b, y], would give (1/2 + 2/3) / 2 too,
        # so the next case is the one that pins the order)
        ([["x", "a"], ["b", "y"]], {"a", "b"}, 7 / 12),
        # interleaved [x, c, a, b]: hit at 3 only: (1/3) / 1
        # (concatenated [x, a, c, b] would give 1/2)
        ([["x", "a"], ["c", "b"]], {"a"}, 1 / 3),
        # dedup: merged [x, a, b], hits at 2 and 3: (1/2 + 2/3) / 2 = 7/12
        # (keeping the second x, [x, x, a, b], would give (1/3 + 2/4) / 2 = 5/12)
        ([["x", "a"], ["x", "b"]], {"a", "b"}, 7 / 12),
    ],
)
def test_average_precision(rankings, relevant, expected):
    assert average_precision(rankings, relevant) == pytest.approx(expected)


@pytest.mark.parametrize(
    "call",
    [
        lambda: scene_recall([["a"]], set(), 1),
        lambda: average_precision([["a"]], set()),
        lambda: scene_hits([["a"]], {"a"}, 0),
        lambda: distinct_at([["a"]], 0),
        lambda: RetrievalScores().summary(),
    ],
    ids=["recall-empty-gt", "ap-empty-gt", "hits-k0", "distinct-k0", "summary-no-scenes"],
)
def test_undefined_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: top_k_union(["a", "b"], 1),
        lambda: merge_rankings(["ab"]),
        lambda: RetrievalScores().add(["a", "b"], {"a"}),
    ],
    ids=["union", "merge", "add"],
)
def test_bare_list_of_ids_is_rejected(call):
    # ["a", "b"] is one ranking, not two queries; it must not be read as such
    with pytest.raises(TypeError):
        call()


def test_summary_two_scenes():
    scores = RetrievalScores()
    # scene A: one query, GT {a, b}
    scores.add([["a", "x", "b"]], {"a", "b"})
    # scene B: two queries, GT {c}
    scores.add([["y"], ["c"]], {"c"})
    summary = scores.summary(ks=(1, 5))

    assert summary == pytest.approx(
        {
            # hits 1 + 1 over 2 + 1 GT ids
            "recall@1": 2 / 3,
            "recall@5": 1.0,
            # A: top-1 {a} -> 1/2; B: top-1 union {y, c} -> 1; mean 3/4
            "scene_recall@1": 0.75,
            # A: 2/2, B: 1/1
            "scene_recall@5": 1.0,
            # A: {a} -> 1, B: {y, c} -> 2
            "distinct@1": 1.5,
            # A: {a, x, b} -> 3, B: 2
            "distinct@5": 2.5,
            # A: 5/6; B: merged [y, c], hit at 2 -> 1/2; mean (5/6 + 1/2) / 2 = 2/3
            "map": 2 / 3,
            "scenes": 2,
            "scored_scenes": 2,
        }
    )


def test_summary_default_keys():
    scores = RetrievalScores()
    scores.add([["a"]], {"a"})
    assert set(scores.summary()) == {
        *(f"{name}@{k}" for name in ("recall", "scene_recall", "distinct") for k in (1, 5, 10, 20)),
        "map",
        "scenes",
        "scored_scenes",
    }


def test_empty_gt_scene_excluded_from_recall_and_map():
    scores = RetrievalScores()
    scores.add([["a", "b"]], {"a"})  # recall@1 1, AP 1, distinct@10 2
    scores.add([["x"]], set())  # no GT: skipped for recall/map, distinct@10 1
    summary = scores.summary(ks=(1, 10))
    # counted as 0 it would drag recall and map to 1/2
    assert summary["recall@1"] == 1.0
    assert summary["scene_recall@1"] == 1.0
    assert summary["map"] == 1.0
    # distinct is over every scene: (2 + 1) / 2
    assert summary["distinct@10"] == 1.5
    assert summary["scenes"] == 2
    assert summary["scored_scenes"] == 1


def test_pooled_and_per_scene_recall_differ():
    scores = RetrievalScores()
    scores.add([["a"]], {"a"})  # 1 of 1
    scores.add([["x"]], {"b", "c", "d"})  # 0 of 3
    summary = scores.summary(ks=(1,))
    # pooled: (1 + 0) / (1 + 3); per scene: (1 + 0) / 2
    assert summary["recall@1"] == pytest.approx(0.25)
    assert summary["scene_recall@1"] == pytest.approx(0.5)


def test_add_copies_its_inputs():
    scores = RetrievalScores()
    rankings = [["a"]]
    relevant = {"a"}
    scores.add(rankings, relevant)
    rankings[0][0] = "x"
    relevant.add("b")
    # still scored as [[a]] against {a}
    assert scores.summary(ks=(1,))["recall@1"] == 1.0
