"""Box math, table-driven. Boxes are (N, 4) pixel xyxy."""

import numpy as np
import pytest
from PIL import Image

from search.boxes import box_area, clip_boxes, crop, pad_boxes, square_boxes


@pytest.mark.parametrize("box, ratio, expected", [
    ([10, 10, 20, 30], 0.0, [10, 10, 20, 30]),
    ([10, 10, 20, 30], 0.1, [9, 8, 21, 32]),
    ([0, 0, 100, 50], 0.5, [-50, -25, 150, 75]),
    ([5, 5, 5, 5], 0.2, [5, 5, 5, 5]),  # a degenerate box stays degenerate
])
def test_pad_boxes(box, ratio, expected):
    np.testing.assert_allclose(pad_boxes(np.array([box]), ratio), [expected])


@pytest.mark.parametrize("box, expected", [
    ([0, 0, 10, 10], [0, 0, 10, 10]),
    ([0, 0, 20, 10], [0, -5, 20, 15]),
    ([10, 0, 20, 40], [-5, 0, 35, 40]),
])
def test_square_boxes(box, expected):
    out = square_boxes(np.array([box]))
    np.testing.assert_allclose(out, [expected])
    assert out[0, 2] - out[0, 0] == pytest.approx(out[0, 3] - out[0, 1])


@pytest.mark.parametrize("box, expected", [
    ([-5, -5, 50, 50], [0, 0, 40, 30]),
    ([10, 10, 20, 20], [10, 10, 20, 20]),
    ([45, 35, 60, 70], [40, 30, 40, 30]),
])
def test_clip_boxes(box, expected):
    np.testing.assert_allclose(clip_boxes(np.array([box]), 40, 30), [expected])


@pytest.mark.parametrize("box, area", [([0, 0, 10, 5], 50), ([5, 5, 5, 9], 0), ([10, 10, 0, 0], 0)])
def test_box_area(box, area):
    assert box_area(np.array([box]))[0] == area


def test_many_boxes_keep_their_shape():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 25, 15], [1, 2, 3, 4]], dtype=float)
    for f in (lambda b: pad_boxes(b, 0.1), square_boxes, lambda b: clip_boxes(b, 20, 20)):
        assert f(boxes).shape == (3, 4)


@pytest.mark.parametrize("box, size", [
    ((2, 3, 12, 9), (10, 6)),
    ((2.4, 3.6, 11.2, 8.1), (10, 6)),  # rounded outward
    ((5, 5, 5, 5), (1, 1)),  # never empty
])
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
