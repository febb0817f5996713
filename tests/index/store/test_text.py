"""Full-text search over the catalog's words (SQLite FTS5, BM25)."""

import numpy as np
import pytest

from core.types import Product
from index.store.text import TextIndex

PRODUCTS = [
    Product(0, "a", "EKTORP sofa", "Sofa", attributes={"colour": "Hallarp beige"}),
    Product(1, "b", "STRANDMON wing chair", "Armchair", attributes={"colour": "Nordvalla dark grey"}),
    Product(2, "c", "BILLY bookcase", "Bookcase", attributes={"colour": "oak effect", "material": "Foil"}),
    Product(3, "d", "HEMNES bookcase", "Bookcase", attributes={"colour": "white stain"}),
    Product(4, "e", "Café table", "Table"),
]


@pytest.mark.parametrize(
    "words, first, found",
    [
        ("oak bookcase", {2}, {2, 3}),  # both bookcases; the oak one holds both words
        ("bookcases", {2, 3}, {2, 3}),  # stemmed
        ("Armchair", {1}, {1}),
        ("cafe", {4}, {4}),  # accents are folded
        ("DARK GREY", {1}, {1}),
    ],
)
def test_words_find_the_products_that_hold_them(words, first, found):
    rows, relevance = TextIndex(PRODUCTS).search(words)
    assert rows[0] in first and set(rows.tolist()) == found
    assert relevance[0] == 1.0 and (relevance > 0).all() and (relevance <= 1).all()


@pytest.mark.parametrize("words", ["velvet", "", "!!", 'NOT "x" OR (', "bookcase*"])
def test_words_are_never_operators(words):
    rows, relevance = TextIndex(PRODUCTS).search(words)
    assert len(rows) == len(relevance) and set(rows.tolist()) <= ({2, 3} if "bookcase" in words else set())


def test_filler_words_of_a_phrase_match_nothing_alone():
    products = [
        Product(0, "a", "Sofa", "Sofa", attributes={"description": "Sits well in any room."}),
        Product(1, "b", "Sofa", "Sofa", attributes={"colour": "green"}),
    ]
    rows, _ = TextIndex(products).search("this, but in green")
    assert rows.tolist() == [1]  # "in" names no product; it would have brought the first
    rows, _ = TextIndex(products).search("in")  # filler alone is still searched
    assert rows.tolist() == [0]


def test_products_holding_every_word_come_first_and_a_common_word_still_counts():
    # "sofa" is in most of this catalog, which plain BM25 would count as nothing: the grey table
    # and grey chair would lead "grey sofa", as they did.
    products = [
        Product(i, str(i), f"{name} sofa", "Sofa")
        for i, name in enumerate(["KIVIK", "EKTORP", "SODERHAMN", "VIMLE", "LANDSKRONA"])
    ]
    products += [
        Product(5, "5", "LACK table, grey", "Table"),
        Product(6, "6", "POANG chair, grey", "Chair"),
        Product(7, "7", "VIMLE sofa, grey", "Sofa"),
    ]
    rows, relevance = TextIndex(products).search("grey sofa")
    assert rows[0] == 7 and relevance[0] == 1.0  # the one grey sofa
    assert set(rows[1:6].tolist()) == {0, 1, 2, 3, 4}  # then the sofas and grey things alike, each word counting
    assert set(rows.tolist()) == set(range(8)) and (np.diff(relevance) <= 0).all()


def test_words_no_product_holds_are_named():
    index = TextIndex(PRODUCTS)
    assert index.unknown("oak wardrobe") == ["wardrobe"] and index.unknown("oak bookcase") == []
