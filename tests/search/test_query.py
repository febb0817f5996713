"""Reading what a shopper asks: price phrases among the words, a region's box, price filters."""

import pytest

from core.types import Filters
from search.query import QueryError, check_box, check_filters, split_price


@pytest.mark.parametrize("words, given, expected_words, low, high", [
    ("in green", Filters(), "in green", None, None),
    ("velvet, under 300", Filters(), "velvet,", None, 300.0),
    ("sofa below $1,200.50", Filters(), "sofa", None, 1200.5),
    ("over 50 and less than 80", Filters(), "and", 50.0, 80.0),
    ("under 300", Filters(max_price=100), "", None, 100.0),  # a price set by the filters wins
    ("the 3 seat sofa", Filters(), "the 3 seat sofa", None, None),  # a number alone is not a price
])
def test_price_phrases_become_filters(words, given, expected_words, low, high):
    rest, filters = split_price(words, given)
    assert (rest, filters.min_price, filters.max_price) == (expected_words, low, high)


@pytest.mark.parametrize("box, expected", [
    ((10, 20, 30, 40), (10, 20, 30, 40)),
    ((10.4, 19.6, 30, 40), (10, 20, 30, 40)),
    ((-5, -5, 500, 500), (0, 0, 100, 80)),  # clipped to the 100x80 photo
    ([0, 0, 100, 80], (0, 0, 100, 80)),
])
def test_a_box_becomes_whole_pixels_inside_the_photo(box, expected):
    assert check_box(box, (100, 80)) == expected


@pytest.mark.parametrize("box", [(30, 20, 10, 40), (0, 0, 2, 80), (200, 0, 300, 80), (1, 2, 3), "0,0,5,5",
                                 (0, 0, float("inf"), 5), (True, 0, 5, 5)])
def test_a_box_that_is_no_region_is_refused(box):
    with pytest.raises(QueryError):
        check_box(box, (100, 80))


@pytest.mark.parametrize("filters, message", [
    (Filters(min_price=-1), "min_price must be"), (Filters(max_price=float("nan")), "max_price must be"),
    (Filters(min_price=10, max_price=5), "is above max_price")])
def test_bad_price_filters_are_refused(filters, message):
    with pytest.raises(QueryError, match=message):
        check_filters(filters)
