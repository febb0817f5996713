"""What the page writes from a result: the words box's example, the boxes drawn and clickable, one
verdict per object and no numbers per product."""

import json

import pytest

from core.types import Filters, Product
from search.starting import StartingEngine
from web.pictures import boxes_html, drawn_objects
from web.thumbnails import relative_images, thumbnail_file
from web.words import caption, photo_status, product_detail, shelf_detail, shelves_of, text_status, words_example


@pytest.mark.parametrize(
    "products, example",
    [
        (
            [
                Product(0, "a", "KIVIK sofa, grey", "Sofas"),
                Product(1, "b", "EKTORP sofa, white", "Sofas"),
                Product(2, "c", "LACK table", "Coffee tables", attributes={"colour": "white"}),
            ],
            "e.g. “white sofa”",
        ),
        ([Product(0, "a", "Thing", "Lamps")], "e.g. “lamp”"),  # no colour in the catalog's words
        ([Product(0, "a", "Thing", None)], "e.g. “sofa”"),  # nor a category
    ],
)
def test_the_words_example_is_drawn_from_what_the_catalog_sells(products, example):
    assert words_example(products) == example


RESULT = {
    "image_size": [1600, 1200],
    "whole_image": False,
    "objects": [
        {
            "label": "whole photo",
            "box": [0, 0, 1600, 1200],
            "score": None,
            "closeness": 0.2,
            "close_match": False,
            "products": [],
        },
        {
            "label": "chair",
            "box": [100, 200, 500, 1000],
            "score": 0.8,
            "closeness": 0.9,
            "close_match": True,
            "products": [
                {
                    "id": "1",
                    "row": 0,
                    "name": "NORRKER",
                    "category": "Chair",
                    "price": 99.0,
                    "link": None,
                    "image": "x",
                    "score": 0.71,
                }
            ],
        },
        {
            "label": "couch",
            "box": [600, 400, 1500, 1100],
            "score": 0.6,
            "closeness": 0.1,
            "close_match": False,
            "products": [],
        },
    ],
}


def test_the_whole_photo_is_no_box_and_the_boxes_map_the_shown_photo():
    assert drawn_objects(RESULT["objects"]) == [1, 2]
    [boxes] = [json.loads(part.split("'")[0]) for part in boxes_html(RESULT).split("data-boxes='")[1:]]
    assert boxes == [[50, 100, 250, 500], [300, 200, 750, 550]]  # shown at 800 px: half size
    assert boxes_html({"words": "sofa", "products": []}) == ""


def test_each_object_has_one_verdict_and_products_no_number():
    labels = [label for label, _, _ in shelves_of(RESULT, [])]
    assert labels == ["Whole photo · nothing close", "2 · chair", "3 · couch · nothing close"]
    product = RESULT["objects"][1]["products"][0]
    assert caption(product, "HKD") == "NORRKER · HKD 99"
    assert "0.71" not in product_detail(product, 0, None)
    assert shelf_detail(shelves_of(RESULT, [])[1], None).startswith("**1. NORRKER**")
    assert shelf_detail(shelves_of(RESULT, [])[0], None) == "**No product of the catalog is within the filters.**"


def test_a_thumbnail_is_a_link_of_the_app_or_the_web_link_it_is():
    products = [
        {"row": 3, "image": "/srv/idx/v-1/images/3.jpg"},
        {"row": 4, "image": "https://cdn.example/4.jpg"},
        {"row": 5, "image": None},
    ]
    relative_images(products)
    assert [p["image"] for p in products] == ["products/v-1/3.jpg", "https://cdn.example/4.jpg", None]
    assert thumbnail_file(StartingEngine.__new__(StartingEngine), products[1]) == "https://cdn.example/4.jpg"


def _found(*labels, hidden=(), blank=False):
    from core.types import WHOLE_PHOTO, ObjectResult, SearchResult

    objects = [ObjectResult(label, (0, 0, 10, 10), None if label == WHOLE_PHOTO else 0.8, []) for label in labels]
    return SearchResult(objects, all(o.label == WHOLE_PHOTO for o in objects), (10, 10), hidden=hidden, blank=blank)


@pytest.mark.parametrize(
    "result, filters, status",
    [
        (
            _found("chair", "chair", hidden=("couch", "bed", "lamp")),
            Filters(("Chairs",)),
            "**Showing the 2 chairs within the filters;** 3 other objects (couch, bed, lamp) are hidden by the "
            "category filter. Click a box",
        ),
        (
            _found("couch", hidden=("chair",)),
            Filters(max_price=300),
            "**Showing the couch within the filters;** 1 other object (chair) is hidden by the filters.",
        ),
        (
            _found("whole photo", hidden=("couch", "couch")),
            Filters(("Lamps",)),
            "**None of the objects found is within the filters, so the whole photo was searched within them;** "
            "2 objects (couch) hidden by the category filter.",
        ),
        (_found("whole photo", blank=True), Filters(), "**This photo shows nothing to search:**"),
        (_found("whole photo"), Filters(), "**No furniture or home goods recognised"),
    ],
)
def test_the_status_says_what_the_filters_hid_and_when_a_photo_shows_nothing(result, filters, status):
    text = photo_status(result, filters)
    assert text.startswith(status), text
    assert ("confidence" in text) == (not result.blank and not result.hidden and result.whole_image)


@pytest.mark.parametrize(
    "filters, found, status",
    [
        (Filters(max_price=200), 10, "**10 products for “lamp”, priced under 200.**"),
        (Filters(min_price=100, max_price=200), 1, "**1 product for “lamp”, priced from 100 to 200.**"),
        (Filters(), 10, "**10 products for “lamp”.**"),
        (Filters(min_price=50), 0, "**No product of the catalog matches “lamp”, priced over 50.**"),
    ],
)
def test_a_words_search_echoes_its_price_bound(filters, found, status):
    from core.types import Match, TextResult

    result = TextResult("lamp", filters, [Match(Product(0, "a", "Lamp", "Lamps"), 1.0)] * found, ("keywords",))
    assert text_status(result).startswith(status)
