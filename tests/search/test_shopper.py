"""Shopper search through the engine: a region, words, filters, text search, several photos per
product, popularity and "no close match", over a small shop with names, colours, prices and ratings."""

import pytest

from core.settings import SearchSettings
from core.types import SELECTION, Filters
from index.builder.build import build_index
from index.catalog.open import open_catalog
from index.catalog_index import CatalogIndex
from search.engine import Engine
from search.query import QueryError
from support import GREY, FakeDetector, FakeEncoder, paint, write_csv

RED, RED_2, DARK_RED, CRIMSON, BLUE = (255, 0, 0), (250, 0, 0), (200, 0, 0), (220, 0, 0), (0, 0, 255)
VECTORS = {
    RED: [1, 0, 0, 0],
    RED_2: [0.98, 0, 0, 0.2],
    DARK_RED: [0.9, 0.3, 0, 0],
    CRIMSON: [0.97, 0.1, 0, 0],
    BLUE: [0, 1, 0, 0],
    GREY: [0, 0, 0.1, 1],
}
# (id, name, category, colour word, price, rating, photo colour): A1 has two photos; the green armchair
# photographs nearly as red as the red ones (the fake encoder sees its centre colour only).
SHOP = [
    ("A1", "ROSE armchair", "Armchair", "red", "100", "1.0", RED),
    ("A1", "ROSE armchair", "Armchair", "red", "100", "1.0", RED_2),
    ("A2", "FERN armchair", "Armchair", "green", "300", "4.5", DARK_RED),
    ("A3", "POPPY armchair", "Armchair", "red", "50", "5.0", CRIMSON),
    ("S1", "SKY sofa", "Sofa", "blue", "900", "3.0", BLUE),
]
PHOTO = paint((100, 100), [((20, 20, 80, 80), RED)])


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shop")
    (folder / "img").mkdir()
    rows = []
    for i, (pid, name, category, colour, price, rating, rgb) in enumerate(SHOP):
        paint((40, 40), [((10, 10, 30, 30), rgb)], background=(255, 255, 255)).save(folder / "img" / f"{i}.png")
        rows.append(
            {
                "id": pid,
                "image": f"img/{i}.png",
                "name": name,
                "category": category,
                "colour": colour,
                "price": price,
                "rating": rating,
            }
        )
    catalog = open_catalog(write_csv(folder / "catalog.csv", rows))
    build_index(catalog, FakeEncoder(VECTORS), folder / "idx", progress=False)
    return CatalogIndex.load(folder / "idx")


def _engine(index, detector=None, **settings):
    return Engine(detector, FakeEncoder(VECTORS), index, SearchSettings(**{"whole_photo_upto": 0, **settings}))


def _ids(products):
    return [m.product.id for m in products]


def test_a_product_with_several_photos_is_listed_once_at_its_best_photo(index):
    [obj] = _engine(index).search(PHOTO, top_k=3).objects
    assert _ids(obj.products) == ["A1", "A3", "A2"]  # K distinct products, though A1's two photos lead
    assert obj.products[0].score == pytest.approx(1.0)


def test_a_region_is_searched_without_the_detector(index):
    room = paint((200, 100), [((10, 10, 60, 90), RED), ((120, 10, 190, 90), BLUE)])
    detector = FakeDetector(room, [((10, 10, 60, 90), "chair", 0.9, None)])
    result = _engine(index, detector).search(room, top_k=1, box=(110, 0, 200, 100))
    assert detector.calls == []  # the user's region is searched as it is
    [obj] = result.objects
    assert (obj.label, obj.box, obj.score, _ids(obj.products)) == (SELECTION, (110, 0, 200, 100), None, ["S1"])
    assert not result.whole_image


@pytest.mark.parametrize(
    "box, message",
    [
        ((10, 10, 5, 5), "leaves no region"),
        ((300, 300, 400, 400), "leaves no region"),
        ((1, 2, 3), "four numbers"),
        ((0, 0, float("nan"), 10), "four numbers"),
    ],
)
def test_a_box_that_is_no_region_of_the_photo_is_refused(index, box, message):
    with pytest.raises(QueryError, match=message):
        _engine(index).search(PHOTO, box=box)


@pytest.mark.parametrize(
    "filters, expected",
    [
        (Filters(), ["A1", "A3", "A2", "S1"]),
        (Filters(max_price=200), ["A1", "A3"]),
        (Filters(min_price=200), ["A2", "S1"]),
        (Filters(categories=("Sofa",)), ["S1"]),
    ],
)
def test_filters_narrow_inside_the_index_search(index, filters, expected):
    [obj] = _engine(index).search(PHOTO, top_k=4, filters=filters).objects
    assert _ids(obj.products) == expected  # as many as the filters leave, up to K, never fewer


@pytest.mark.parametrize(
    "filters, message",
    [
        (
            Filters(categories=("Sofa",), max_price=100),
            "No product of the catalog in Sofa is priced under 100: the only price in Sofa is 900",
        ),
        (Filters(min_price=1000), r"No product of the catalog is priced over 1,000: prices go from 50 to 900\."),
        (Filters(min_price=60, max_price=90), "is priced from 60 to 90: prices go from 50 to 900"),
    ],
)
def test_filters_that_keep_no_product_are_refused_in_a_shoppers_words(index, filters, message):
    engine = _engine(index)
    with pytest.raises(QueryError, match=message):
        engine.search(PHOTO, filters=filters)
    with pytest.raises(QueryError, match=message):  # the words' own price bounds alike
        engine.search_text("armchair", filters=filters)


def test_words_lift_the_products_they_name(index):
    engine = _engine(index)
    [plain] = engine.search(PHOTO, top_k=3).objects
    [green] = engine.search(PHOTO, top_k=3, words="in green").objects
    assert _ids(plain.products) == ["A1", "A3", "A2"] and _ids(green.products)[0] == "A2"
    [cheap] = engine.search(PHOTO, top_k=3, words="under 80").objects  # a price phrase is a filter
    assert _ids(cheap.products) == ["A3"]
    [none] = engine.search(PHOTO, top_k=3, words="velvet").objects  # no product has the word: no change
    assert _ids(none.products) == _ids(plain.products)


def test_text_search_finds_products_by_their_words(index):
    engine = _engine(index)
    result = engine.search_text("green armchairs", top_k=3)  # stemmed: "armchairs" finds "armchair"
    assert _ids(result.products)[0] == "A2" and set(_ids(result.products)) == {"A1", "A2", "A3"}
    assert result.matched_by == ("keywords",) and 0 < result.products[-1].score <= result.products[0].score <= 1
    assert _ids(engine.search_text("armchair", top_k=5, filters=Filters(max_price=60)).products) == ["A3"]
    assert engine.search_text("lamp").products == []
    for words in ("", "  !? ", "under 300"):
        with pytest.raises(QueryError, match="Type some words"):
            engine.search_text(words)


def test_popularity_breaks_near_ties_only_when_asked(index):
    [off] = _engine(index).search(PHOTO, top_k=3).objects
    [on] = _engine(index, popularity_weight=0.05).search(PHOTO, top_k=3).objects
    assert _ids(off.products) == ["A1", "A3", "A2"]
    # A3 (0.995 to A1's 1.0) is rated 5 to A1's 1; the better rated A2 is too far behind to move.
    assert _ids(on.products) == ["A3", "A1", "A2"]
    scores = {m.product.id: m.score for m in off.products}
    assert {m.product.id: m.score for m in on.products} == scores  # the scores shown stay the similarities


def test_each_list_says_how_close_its_best_match_is(index):
    [red] = _engine(index).search(PHOTO).objects
    [grey] = _engine(index).search(paint((100, 100), [])).objects  # a grey wall: nothing like it is sold
    assert red.close_match and red.closeness == pytest.approx(1.0)
    assert grey.close_match is False and grey.closeness < 0.5


def test_calibration_is_measured_from_the_catalog(index):
    calibration = index.manifest.calibration
    assert calibration.unrelated < calibration.near <= 1.0


def test_a_clip_encoder_reads_the_words_too(tiny_shop_engine):
    result = tiny_shop_engine.search_text("chair", top_k=3)
    assert result.matched_by == ("keywords", "photos") and _ids(result.products)[0] == "P0"
    assert len(result.products) == 3  # the text tower ranks every photo; the keywords find the chair
    photo = paint((64, 64), [((16, 16, 48, 48), (255, 0, 0))])
    [obj] = tiny_shop_engine.search(photo, box=(0, 0, 64, 64), words="red chair", top_k=2).objects
    assert len(obj.products) == 2 and obj.products[0].product.id == "P0"
