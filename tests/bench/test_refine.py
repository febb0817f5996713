"""bench.refine: colour words, the queries drawn from a catalog, their scoring, and a run on part of
ikea-interior (slow)."""

import csv
import json

import pytest

from bench.refine import KS, colour_queries, colours, first_hit, hit_rates, keyword_queries, main, precision
from bench.scenes import HALVES
from core.types import Product
from support import INTERIOR, MOBILENET, SHARED_MISSING, SHARED_REASON, write_csv


def product(id, category, color=None):
    return Product(row=0, id=id, name=id.upper(), category=category, attributes={"color": color} if color else {})


@pytest.mark.parametrize(
    "color, expected",
    [
        ("Nolhaga grey-beige,black,wood", {"grey", "beige", "black"}),
        ("White stained oak effect", {"white", "oak"}),
        ("Dark-grey/Red", {"grey", "red"}),
        ("Gray-turquoise", {"gray", "turquoise"}),
        ("Stainless steel", set()),  # no colour word
        ("Greyish 2-pack", set()),  # a word is a colour only whole
        (None, set()),
    ],
)
def test_colour_words_are_the_basic_colour_names_in_the_colour_column(color, expected):
    assert colours(product("p", "Chair", color)) == expected


TINY = [
    product("a", "Chair", "White"),
    product("b", "Chair", "Black-brown"),
    product("c", "Chair", "Black"),
    product("d", "Sofa", "Green"),  # the only sofa: no other colour to ask for
    product("e", "Chair"),  # no colour of its own: every chair colour is one it lacks
    product("f", None, "Red"),
]  # no category: no query


@pytest.mark.parametrize(
    "id, expected",
    [
        ("a", {"black", "brown"}),
        ("b", {"white"}),
        ("c", {"brown", "white"}),
        ("d", set()),
        ("e", {"black", "brown", "white"}),
        ("f", set()),
    ],
)
def test_a_product_is_asked_for_each_colour_it_lacks_that_another_of_its_category_has(id, expected):
    queries = colour_queries(TINY)
    assert {q.colour for q in queries if q.product == id} == expected
    assert all(q.category == "Chair" for q in queries)


def test_colour_queries_are_at_most_three_per_product_fixed_and_split_in_halves():
    many = [product("p", "Rug", "Beige")] + [
        product(f"q{i}", "Rug", c) for i, c in enumerate(["White", "Black", "Grey", "Blue", "Red", "Pink"])
    ]
    queries = colour_queries(many)
    assert sum(q.product == "p" for q in queries) == 3
    assert queries == colour_queries(list(reversed(many)))  # the catalog's order plays no part
    halves = [colour_queries(many, half) for half in HALVES]
    assert sorted(halves[0] + halves[1], key=lambda q: (q.product, q.colour)) == queries
    assert not {q.product for q in halves[0]} & {q.product for q in halves[1]}


def test_keyword_queries_name_categories_of_five_products_or_more_and_their_last_words():
    catalog = (
        [product(f"a{i}", "Armchair") for i in range(5)]
        + [product(f"s{i}", "Swivel armchair") for i in range(5)]
        + [product(f"r{i}", "Rug, flatwoven") for i in range(6)]
        + [product(f"o{i}", "Sofa") for i in range(4)]
    )
    queries = keyword_queries(catalog)
    assert queries["category"] == {
        "armchair": {f"a{i}" for i in range(5)},
        "swivel armchair": {f"s{i}" for i in range(5)},
        "rug, flatwoven": {f"r{i}" for i in range(6)},
    }  # 4 sofas are too few
    assert queries["word"] == {
        "armchair": {f"a{i}" for i in range(5)} | {f"s{i}" for i in range(5)},
        "flatwoven": {f"r{i}" for i in range(6)},
    }
    for variant in ("category", "word"):
        split = [keyword_queries(catalog, half)[variant] for half in HALVES]
        assert {**split[0], **split[1]} == queries[variant] and not split[0].keys() & split[1].keys()


@pytest.mark.parametrize(
    "ranking, expected",
    [
        (["x", "a", "b"], 1),
        (["a"], 0),
        (["x", "y"], None),
        ([], None),
    ],
)
def test_first_hit_is_the_rank_of_the_first_relevant_product(ranking, expected):
    assert first_hit(ranking, frozenset({"a", "b"})) == expected


@pytest.mark.parametrize(
    "ranks, expected",
    [
        ([0, 4, 9, None], {"hit@1": 0.25, "hit@5": 0.5, "hit@10": 0.75}),
        ([None, None], {"hit@1": 0.0, "hit@5": 0.0, "hit@10": 0.0}),
        ([3], {"hit@1": 0.0, "hit@5": 1.0, "hit@10": 1.0}),
    ],
)
def test_hit_rates_count_queries_with_a_hit_within_k(ranks, expected):
    assert hit_rates(ranks) == expected


@pytest.mark.parametrize(
    "ranking, expected",
    [
        (["a", "b", "x"] + ["y"] * 7, 0.2),
        (["a", "b"], 0.2),  # places left empty are misses
        (["x"] * 10 + ["a"], 0.0),  # only the top 10 count
    ],
)
def test_precision_is_the_share_of_the_top_ten_places_that_are_relevant(ranking, expected):
    assert precision(ranking, frozenset({"a", "b"})) == pytest.approx(expected)


# The slow run: every product of these types (166 products, an index built in under a minute on a
# CPU), the first LIMIT colour queries of each half.
TYPES = ("Rug, flatwoven", "Cushion cover", "Chair", "Rug, low pile", "Rug, high pile", "Throw")
LIMIT = 60


@pytest.fixture(scope="module")
def subset_run(tmp_path_factory):
    if SHARED_MISSING:
        pytest.skip(SHARED_REASON)
    out = tmp_path_factory.mktemp("refine-subset")
    with (INTERIOR / "products.csv").open(newline="", encoding="utf-8") as f:
        rows = [{**r, "image_path": str(INTERIOR / r["image_path"])} for r in csv.DictReader(f) if r["type"] in TYPES]
    catalog = write_csv(out / "products.csv", rows)
    assert (
        main(
            [
                "--catalog",
                str(catalog),
                "--encoder",
                str(MOBILENET),
                "--index",
                str(out / "index"),
                "--device",
                "cpu",
                "--limit",
                str(LIMIT),
                "--no-progress",
                "--out",
                str(out / "refine.json"),
            ]
        )
        == 0
    )
    return json.loads((out / "refine.json").read_text())


@pytest.mark.slow
def test_words_find_the_colour_asked_for_at_least_as_often_as_the_photo_alone(subset_run):
    assert set(subset_run) == {"results", "settings", "timing"}
    assert set(subset_run["results"]) == set(HALVES)
    assert subset_run["settings"]["text_columns"] == ["color", "size", "description"]
    assert subset_run["settings"]["columns"]["category"] == "type"
    assert {"photo_ms", "words_ms", "text_ms"} <= set(subset_run["timing"])
    default = str(subset_run["settings"]["default_weight"])
    for half, result in subset_run["results"].items():
        colour = result["colour"]
        assert colour["queries"] == LIMIT
        assert (
            set(colour["words"]) == {str(w) for w in subset_run["settings"]["weights"]} and default in colour["words"]
        )
        assert set(colour["photo"]) == {f"hit@{k}" for k in KS}
        assert colour["words"][default]["hit@10"] >= colour["photo"]["hit@10"], half
        assert set(result["keywords"]) == {"category", "word"}
