"""Detections: one container of boxes (N, 4), scores (N,) and labels, indexed and joined as a whole."""

import numpy as np
import pytest

from core.types import Detections, Match, ObjectResult, Product, SearchResult


def _three():
    return Detections([[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4]], [0.9, 0.5, 0.1], ("chair", "bed", "chair"))


def test_detections_hold_float64_arrays_of_matching_length():
    found = _three()
    assert found.boxes.shape == (3, 4) and found.boxes.dtype == np.float64
    assert found.scores.dtype == np.float64 and len(found) == 3
    assert len(Detections.empty()) == 0 and Detections.empty().boxes.shape == (0, 4)
    with pytest.raises(ValueError, match="do not match"):
        Detections([[0, 0, 1, 1]], [0.5, 0.6], ("chair",))


@pytest.mark.parametrize(
    "keep, labels, scores",
    [
        ([2, 0], ("chair", "chair"), [0.1, 0.9]),  # indices, in the order given
        ([True, False, True], ("chair", "chair"), [0.9, 0.1]),  # a mask
        ([], (), []),
    ],
)
def test_indexing_takes_rows_together(keep, labels, scores):
    picked = _three()[keep]
    assert picked.labels == labels and picked.scores.tolist() == scores and picked.boxes.shape == (len(labels), 4)


def test_adding_joins_two_passes():
    both = _three() + Detections([[7, 7, 8, 8]], [0.3], ("couch",))
    assert both.labels == ("chair", "bed", "chair", "couch") and both.boxes[-1].tolist() == [7, 7, 8, 8]


def test_search_result_to_dict():
    product = Product(row=0, id="P0", name="Chair", price=9.5, image="/x/0.jpg")
    result = SearchResult(
        [ObjectResult("chair", (1, 2, 3, 4), 0.8, [Match(product, 0.7)])], False, (10, 20), {"detect": 1.0}
    )
    assert result.to_dict() == {
        "objects": [
            {
                "label": "chair",
                "box": [1, 2, 3, 4],
                "score": 0.8,
                "closeness": None,
                "close_match": None,
                "products": [
                    {
                        "row": 0,
                        "id": "P0",
                        "name": "Chair",
                        "category": None,
                        "price": 9.5,
                        "link": None,
                        "image": "/x/0.jpg",
                        "popularity": None,
                        "attributes": {},
                        "score": 0.7,
                    }
                ],
            }
        ],
        "whole_image": False,
        "image_size": [10, 20],
        "hidden": [],
        "blank": False,
        "timings_ms": {"detect": 1.0},
    }
