"""Grouping look-alike detections and fusing their product lists; the box helpers they rely on."""

import numpy as np
import pytest
from PIL import Image

from search.boxes import letterbox, mirror_boxes, nms
from search.grouping import fuse_best, group_lookalikes


def _ranked(*rows):
    return [(row, 1.0 - 0.01 * i) for i, row in enumerate(rows)]


def test_lookalikes_of_one_label_are_one_group():
    a = _ranked(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
    b = _ranked(3, 2, 1, 40, 50, 60, 70, 80, 90, 100)  # shares 3 of its top 10 with a
    c = _ranked(11, 12, 2, 13, 14, 15, 16, 17, 18, 19)  # shares only 1
    d = _ranked(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)  # same products as a, but another label
    assert group_lookalikes(["chair", "chair", "chair", "couch"], [a, b, c, d]) == [[0, 1], [2], [3]]


def test_a_detection_joins_through_any_member_of_a_group():
    a = _ranked(*range(0, 10))
    b = _ranked(0, 1, 2, *range(100, 107))  # like a
    c = _ranked(100, 101, 102, *range(200, 207))  # like b, not like a
    assert group_lookalikes(["chair"] * 3, [a, b, c]) == [[0, 1, 2]]


def test_products_beyond_the_top_ten_do_not_group():
    a = _ranked(*range(0, 10), 50, 51, 52)
    b = _ranked(*range(20, 30), 50, 51, 52)
    assert group_lookalikes(["bed", "bed"], [a, b]) == [[0], [1]]


def test_fuse_best_keeps_each_products_best_score():
    fused = fuse_best([[(1, 0.9), (2, 0.5), (3, 0.4)], [(2, 0.8), (4, 0.7), (1, 0.1)]], 3)
    assert fused == [(1, 0.9), (2, 0.8), (4, 0.7)]
    assert fuse_best([[(1, 0.9)]], 5) == [(1, 0.9)]
    assert fuse_best([], 5) == []


def test_letterbox_centres_the_crop_on_a_square_of_the_fill():
    image = Image.new("RGB", (100, 50), (10, 20, 30))
    square = letterbox(image, (10, 0, 50, 20), fill=(200, 200, 200))
    assert square.size == (40, 40)
    assert square.getpixel((20, 20)) == (10, 20, 30)  # the crop, in the middle
    assert square.getpixel((20, 2)) == (200, 200, 200)  # the fill above and below it
    assert letterbox(image, (0, 0, 10, 30)).size == (30, 30)


def test_mirror_boxes_maps_boxes_back_from_a_mirrored_photo():
    np.testing.assert_allclose(mirror_boxes(np.array([[10, 5, 30, 25]]), 100), [[70, 5, 90, 25]])
    twice = mirror_boxes(mirror_boxes(np.array([[1.5, 2, 3, 4]]), 10), 10)
    np.testing.assert_allclose(twice, [[1.5, 2, 3, 4]])


def test_nms_is_per_label_and_best_first():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]])
    scores = [0.5, 0.9, 0.8, 0.1]
    labels = ["chair", "chair", "couch", "chair"]
    # box 0 overlaps the better box 1 (IoU 9/11) of its label and goes; the couch stays.
    assert nms(boxes, scores, labels, iou=0.5) == [1, 2, 3]
    assert nms(boxes, scores, labels, iou=0.95) == [1, 2, 0, 3]
    assert nms(np.zeros((0, 4)), [], [], iou=0.5) == []
