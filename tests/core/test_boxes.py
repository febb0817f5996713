"""Box math, table-driven. Boxes are (N, 4) pixel xyxy."""

import numpy as np
import pytest
from PIL import Image

from core.boxes import centre_crop, clip_boxes, crop, letterbox, mirror_boxes, nms, overlap, pad_boxes, photo_regions


@pytest.mark.parametrize(
    "box, ratio, expected",
    [
        ([10, 10, 20, 30], 0.0, [10, 10, 20, 30]),
        ([10, 10, 20, 30], 0.1, [9, 8, 21, 32]),
        ([0, 0, 100, 50], 0.5, [-50, -25, 150, 75]),
        ([5, 5, 5, 5], 0.2, [5, 5, 5, 5]),  # a degenerate box stays degenerate
    ],
)
def test_pad_boxes(box, ratio, expected):
    np.testing.assert_allclose(pad_boxes(np.array([box]), ratio), [expected])


@pytest.mark.parametrize(
    "box, expected",
    [
        ([-5, -5, 50, 50], [0, 0, 40, 30]),
        ([10, 10, 20, 20], [10, 10, 20, 20]),
        ([45, 35, 60, 70], [40, 30, 40, 30]),
    ],
)
def test_clip_boxes(box, expected):
    np.testing.assert_allclose(clip_boxes(np.array([box]), 40, 30), [expected])


def test_many_boxes_keep_their_shape():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 25, 15], [1, 2, 3, 4]], dtype=float)
    for f in (lambda b: pad_boxes(b, 0.1), lambda b: clip_boxes(b, 20, 20), lambda b: mirror_boxes(b, 20)):
        assert f(boxes).shape == (3, 4)


@pytest.mark.parametrize(
    "box, size",
    [
        ((2, 3, 12, 9), (10, 6)),
        ((2.4, 3.6, 11.2, 8.1), (10, 6)),  # rounded outward
        ((5, 5, 5, 5), (1, 1)),  # never empty
    ],
)
def test_crop_inside(box, size):
    image = Image.new("RGB", (20, 20), (9, 9, 9))
    assert crop(image, box).size == size


def test_crop_outside_is_filled():
    image = Image.new("RGB", (10, 10), (0, 0, 0))
    out = crop(image, (-5, 0, 10, 10), fill=(255, 255, 255))
    assert out.size == (15, 10)
    assert out.getpixel((0, 5)) == (255, 255, 255)
    assert out.getpixel((10, 5)) == (0, 0, 0)
    assert crop(image, (20, 20, 30, 30)).getpixel((5, 5)) == (255, 255, 255)


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


def test_photo_regions_are_the_whole_photo_its_halves_and_centre():
    regions = photo_regions(200, 100)
    assert regions.dtype == np.float64
    assert regions.tolist() == [
        [0, 0, 200, 100],
        [0, 0, 100, 100],
        [100, 0, 200, 100],
        [0, 0, 200, 50],
        [0, 50, 200, 100],
        [30, 15, 170, 85],
    ]


@pytest.mark.parametrize(
    "size, side", [((100, 60), 100), ((199, 50), 199), ((200, 50), 100), ((450, 300), 113), ((1000, 2000), 100)]
)
def test_letterbox_shrinks_a_big_cut_by_a_whole_factor(size, side):
    """With shrink_from=100, cuts under 200 px a side are as they were; larger ones shrink to 100-199 px."""
    image = Image.new("RGB", size, (30, 120, 60))
    square = letterbox(image, (0, 0, *size), shrink_from=100)
    assert square.size == (side, side) and square.getpixel((side // 2, side // 2)) == (30, 120, 60)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), (1.0, 1.0, 1.0)),
        ((0, 0, 10, 10), (5, 0, 15, 10), (1 / 3, 0.5, 1.0)),  # half over each other
        ((0, 0, 10, 10), (2, 2, 7, 7), (0.25, 1.0, 0.25)),  # a small box inside a big one
        ((0, 0, 10, 10), (10, 0, 20, 10), (0.0, 0.0, 0.0)),  # touching edges: no overlap
        ((0, 0, 10, 10), (3, 3, 3, 8), (0.0, 0.0, 0.0)),  # an empty box
    ],
)
def test_overlap_is_the_iou_the_share_of_the_smaller_inside_and_their_sizes(a, b, expected):
    assert overlap(a, b) == pytest.approx(expected)
    assert overlap(b, a) == pytest.approx(expected)  # symmetric


@pytest.mark.parametrize(
    "size, share, box",
    [
        ((100, 50), 1.0, (0, 0, 100, 50)),
        ((100, 50), 0.79, (10, 5, 90, 45)),
        ((500, 500), 0.5, (125, 125, 375, 375)),
        ((7, 3), 0.9, (0, 0, 7, 3)),  # under a pixel to cut: the image as it is
    ],
)
def test_centre_crop_keeps_the_middle_share_of_each_side(size, share, box):
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    assert list(centre_crop(image, share).getdata()) == list(image.crop(box).getdata())
