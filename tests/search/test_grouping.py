"""Grouping look-alike detections and fusing their product lists."""

from core.types import Match, ObjectResult, Product
from search.grouping import fuse_best, group_lookalikes, one_per_thing


def _match(row, score):
    return Match(Product(row=row, id=f"P{row}"), score)


def _ranked(*rows):
    return [_match(row, 1.0 - 0.01 * i) for i, row in enumerate(rows)]


def test_lookalikes_of_one_label_are_one_group():
    a = _ranked(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
    b = _ranked(3, 2, 1, 40, 50, 60, 70, 80, 90, 100)  # shares 3 of its top 10 with a
    c = _ranked(11, 12, 2, 13, 14, 15, 16, 17, 18, 19)  # shares only 1
    d = _ranked(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)  # same products as a, but another label
    assert group_lookalikes(["chair", "chair", "chair", "couch"], [a, b, c, d]) == [[0, 1], [2], [3]]


def test_a_detection_joins_through_any_member_of_a_group():
    a = _ranked(*range(10))
    b = _ranked(0, 1, 2, *range(100, 107))  # like a
    c = _ranked(100, 101, 102, *range(200, 207))  # like b, not like a
    assert group_lookalikes(["chair"] * 3, [a, b, c]) == [[0, 1, 2]]


def test_products_beyond_the_top_ten_do_not_group():
    a = _ranked(*range(10), 50, 51, 52)
    b = _ranked(*range(20, 30), 50, 51, 52)
    assert group_lookalikes(["bed", "bed"], [a, b]) == [[0], [1]]


def test_fuse_best_keeps_each_products_best_score():
    a = [_match(1, 0.9), _match(2, 0.5), _match(3, 0.4)]
    b = [_match(2, 0.8), _match(4, 0.7), _match(1, 0.1)]
    assert [(m.product.row, m.score) for m in fuse_best([a, b], 3)] == [(1, 0.9), (2, 0.8), (4, 0.7)]
    assert fuse_best([[_match(1, 0.9)]], 5) == [_match(1, 0.9)]
    assert fuse_best([], 5) == []


def _object(label, box, score, products):
    return ObjectResult(label, box, score, [Match(Product(row=0, id=p), 0.5) for p in products])


def test_boxes_over_one_thing_are_one_object_named_by_the_surer_and_their_products_taken_by_turns():
    chair = _object("chair", (10, 10, 50, 90), 0.6, ["C1", "C2", "C3"])
    table = _object("dining table", (11, 12, 50, 88), 0.8, ["T1", "C2", "T2"])
    sofa = _object("couch", (80, 20, 180, 80), 0.7, ["S1"])
    cushion = _object("pillow", (100, 30, 120, 50), 0.9, ["P1"])  # inside the sofa, much smaller: another thing
    merged = one_per_thing([chair, table, sofa, cushion], k=4)
    assert [(o.label, o.box) for o in merged] == [
        ("dining table", (11, 12, 50, 88)),
        ("couch", (80, 20, 180, 80)),
        ("pillow", (100, 30, 120, 50)),
    ]
    assert [m.product.id for m in merged[0].products] == ["T1", "C1", "C2", "T2"]  # each product once, in turns
