"""Reading what a shopper asks, checked once for the page, MCP, the CLI and the engine: how many
products, how sure, price phrases among the words, a region's box, filters."""

import pytest

from core.types import Filters
from search.query import (
    QueryError,
    check_box,
    check_conf,
    check_filters,
    check_top_k,
    check_words,
    read_box,
    read_filters,
    split_price,
)


@pytest.mark.parametrize(
    "words, given, expected_words, low, high",
    [
        ("in green", Filters(), "in green", None, None),
        ("velvet, under 300", Filters(), "velvet,", None, 300.0),
        ("sofa below $1,200.50", Filters(), "sofa", None, 1200.5),
        ("over 50 and less than 80", Filters(), "and", 50.0, 80.0),
        ("under 300", Filters(max_price=100), "", None, 100.0),  # a price set by the filters wins
        ("the 3 seat sofa", Filters(), "the 3 seat sofa", None, None),  # a number alone is not a price
    ],
)
def test_price_phrases_become_filters(words, given, expected_words, low, high):
    rest, filters = split_price(words, given)
    assert (rest, filters.min_price, filters.max_price) == (expected_words, low, high)


@pytest.mark.parametrize(
    "box, expected",
    [
        ((10, 20, 30, 40), (10, 20, 30, 40)),
        ((10.4, 19.6, 30, 40), (10, 20, 30, 40)),
        ((-5, -5, 500, 500), (0, 0, 100, 80)),  # clipped to the 100x80 photo
        ([0, 0, 100, 80], (0, 0, 100, 80)),
    ],
)
def test_a_box_becomes_whole_pixels_inside_the_photo(box, expected):
    assert check_box(box, (100, 80)) == expected


@pytest.mark.parametrize(
    "box",
    [
        (30, 20, 10, 40),
        (0, 0, 2, 80),
        (200, 0, 300, 80),
        (1, 2, 3),
        "0,0,5,5",
        (0, 0, float("inf"), 5),
        (True, 0, 5, 5),
    ],
)
def test_a_box_that_is_no_region_is_refused(box):
    with pytest.raises(QueryError):
        check_box(box, (100, 80))


@pytest.mark.parametrize(
    "filters, message",
    [
        (Filters(min_price=-1), "min_price must be"),
        (Filters(max_price=float("nan")), "max_price must be"),
        (Filters(min_price=10, max_price=5), r"lowest price \(10\) is above the highest price \(5\)"),
    ],
)
def test_bad_price_filters_are_refused(filters, message):
    with pytest.raises(QueryError, match=message):
        check_filters(filters)


@pytest.mark.parametrize(
    "top_k, conf, message",
    [
        (0, 0.25, "top_k must be a whole number from 1 to 30; got 0"),
        (31, 0.25, "top_k .* got 31"),
        (2.5, 0.25, "top_k .* got 2.5"),
        (True, 0.25, "top_k .* got a bool"),
        ("5", 0.25, "top_k .* got a str"),
        (float("inf"), 0.25, "top_k .* got inf"),  # a hand-made request can send these; JSON cannot
        (float("nan"), 0.25, "top_k .* got nan"),
        (5, 0, "conf must be a number above 0 and at most 1; got 0"),
        (5, 1.01, "conf .* got 1.01"),
        (5, None, "conf .* got a NoneType"),
        (5, float("-inf"), "conf .* got -inf"),
        (5, float("nan"), "conf .* got nan"),
    ],
)
def test_how_many_and_how_sure_are_checked_never_rounded(top_k, conf, message):
    with pytest.raises(QueryError, match=message):
        check_top_k(top_k), check_conf(conf)


def test_good_controls_come_back_as_the_engine_takes_them():
    assert (check_top_k(30), check_top_k(7.0), check_conf(1), check_conf(0.05)) == (30, 7, 1.0, 0.05)
    assert check_words(None) == "" and check_words("in green") == "in green"
    with pytest.raises(QueryError, match="at most 200 characters; got 201"):
        check_words("x" * 201)
    with pytest.raises(QueryError, match="words must be text; got a list"):
        check_words(["green"])


@pytest.mark.parametrize(
    "box, expected",
    [
        (None, None),
        ("", None),
        ([], None),
        ([1, 2, 30, 40], (1.0, 2.0, 30.0, 40.0)),
        ("10, 20, 300.5, 400", (10.0, 20.0, 300.5, 400.0)),
        ("[10 20 300 400]", (10.0, 20.0, 300.0, 400.0)),
    ],
)
def test_a_region_is_read_from_a_list_or_its_text(box, expected):
    assert read_box(box) == expected


@pytest.mark.parametrize("box", ["10, 20, 300", "x=1, 2, 3, 4", [1, 2, 3], [1, 2, 3, float("nan")], {"x": 1}])
def test_a_region_that_is_not_four_numbers_is_refused(box):
    with pytest.raises(QueryError, match="box must be four numbers"):
        read_box(box)


def test_filters_are_read_as_a_page_sends_them():
    categories = ["Armchair", "Sofa"]
    assert read_filters(None, 0, 0, categories) == Filters()  # the page's empty fields
    assert read_filters("Sofa", 10, None, categories) == Filters(("Sofa",), 10.0, None)
    assert read_filters(["Sofa", "Armchair", ""], None, 300, categories) == Filters(("Sofa", "Armchair"), None, 300.0)
    for category, low, high, message in [
        ("Bed", None, None, "no category 'Bed'; it has 2 categories"),
        (3, None, None, "category must be a category name or a list"),
        (None, -1, None, "min_price must be a number of at least 0"),
        (None, 50, 10, r"lowest price \(50\) is above the highest price \(10\)"),
    ]:
        with pytest.raises(QueryError, match=message):
            read_filters(category, low, high, categories)
