"""Scoring one benchmark column (why each product was missed) and the table of a quality run."""

import pytest

from bench.report import ColumnScores, format_table, kind_precision


def test_column_scores_count_classes_found_per_scene_and_pooled():
    classes = {"a": "chair", "b": "bed", "c": "chair"}  # "d" has no class: never found
    scores = ColumnScores()
    # Scene 1: chair detected; of {a, b} only a's class -> 1/2. Top-1 finds a.
    scores.add([["a", "x"]], [["x"]], {"a", "b"}, {"chair"}, classes)
    # Scene 2: bed detected; of {c, d} none -> 0/2. Nothing found.
    scores.add([["x"]], [["c"]], {"c", "d"}, {"bed"}, classes)
    # Scene 3: no ground truth: counts towards distinct@K only.
    scores.add([["y", "z"]], [["y"]], set(), {"chair"}, classes)
    out = scores.summary(ks=(1, 2))
    assert out["class_found"] == pytest.approx(1 / 4)
    assert out["scene_class_found"] == pytest.approx((1 / 2 + 0) / 2)
    assert out["recall@1"] == pytest.approx(1 / 4)
    assert out["scene_recall@1"] == pytest.approx((1 / 2 + 0) / 2)
    assert out["distinct@2"] == pytest.approx((2 + 1 + 2) / 3)
    assert (out["scenes"], out["scored_scenes"]) == (3, 2)
    # The whole-photo baseline found c in scene 2: 1 of the 4 ground-truth products.
    assert out["whole_photo"]["recall@1"] == pytest.approx(1 / 4)
    assert "class_found" not in out["whole_photo"]


@pytest.mark.parametrize(
    "kinds, expected",
    [
        # a found; b's class not detected; c searched only as a couch; d has no class; e ranked too low.
        (
            {"a": {"chair"}, "c": {"couch"}, "e": {"chair"}},
            {"no_class": 1, "class_not_detected": 1, "other_kind": 1, "ranked_below": 1},
        ),
        # Without kinds every object searches the whole catalog, so c was just ranked too low.
        (None, {"no_class": 1, "class_not_detected": 1, "other_kind": 0, "ranked_below": 2}),
    ],
)
def test_misses_say_why_each_product_was_not_shown(kinds, expected):
    classes = {"a": "chair", "b": "bed", "c": "chair", "d": "", "e": "chair"}
    scores = ColumnScores(depth=2)
    scores.add([["a", "x"], ["y"]], [["x"]], {"a", "b", "c", "d", "e"}, {"chair"}, classes, kinds)
    out = scores.summary(ks=(1, 2))
    assert out["misses@2"] == pytest.approx({k: v / 5 for k, v in expected.items()})
    assert out["recall@2"] + sum(out["misses@2"].values()) == pytest.approx(1)
    assert "missed at 2: 0.200 have no detector class, 0.200 class not detected" in format_table({"gt": out}, ks=(1, 2))


def test_without_product_classes_there_is_no_class_figure():
    scores = ColumnScores()
    scores.add([["a"]], [["a"]], {"a"}, {"chair"}, None)
    out = scores.summary(ks=(1,))
    assert "class_found" not in out and not any(k.startswith("misses@") for k in out)


def test_table_has_a_row_per_column_and_pipeline():
    scores = ColumnScores()
    scores.add([["a", "b"]], [["b"]], {"a"}, {"chair"}, {"a": "chair"})
    table = format_table({"gt": scores.summary(ks=(1, 2))}, ks=(1, 2))
    lines = table.splitlines()
    assert lines[0].split() == ["ground", "truth", "pipeline", "R@1", "R@2", "mAP", "d@2", "class", "kind@10", "1st@10"]
    assert lines[1].split() == ["gt", "engine", "1.000", "1.000", "1.000", "2.0", "1.000", "-", "-"]
    assert lines[2].split() == ["whole", "photo", "0.000", "0.000", "0.000", "1.0", "-", "-", "-"]
    assert "1 of 1 scenes scored" in lines[3]


@pytest.mark.parametrize(
    "rankings, expected, first",
    [
        ([["c1", "c2", "s1", "c3"]], 0.75, 0.75),  # three of four listed are chairs
        ([["c1", "c2"], ["s1", "s2"]], 0.5, 1.0),  # one object all chairs, one all sofas: their mean
        ([["s1", "s2"], ["c1", "c2"]], 0.5, 0.0),  # the first tab shown is the sofas'
        ([[], ["c1"]], 1.0, 1.0),  # an empty list is not an object shown
        ([["x1", "s1"]], 0.0, 0.0),  # a product of no kind is of none
    ],
)
def test_kind_precision_is_the_share_of_each_objects_list_of_the_photos_kind(rankings, expected, first):
    kinds = {"c1": {"chair"}, "c2": {"chair"}, "c3": {"chair", "couch"}, "s1": {"couch"}, "s2": {"couch"}}
    assert kind_precision(rankings, {"c1"}, kinds) == pytest.approx(expected)  # a photo of chair c1
    scores = ColumnScores()
    scores.add(rankings, rankings, {"c1"}, set(), None, None, kinds)
    summary = scores.summary()
    assert summary["kind_precision@10"] == pytest.approx(expected)
    assert summary["first_kind_precision@10"] == pytest.approx(first)
