"""Full-text search over the catalog's words (SQLite FTS5, BM25)."""

import pytest

from core.types import Product
from index.text import TextIndex

PRODUCTS = [Product(0, "a", "EKTORP sofa", "Sofa", attributes={"colour": "Hallarp beige"}),
            Product(1, "b", "STRANDMON wing chair", "Armchair", attributes={"colour": "Nordvalla dark grey"}),
            Product(2, "c", "BILLY bookcase", "Bookcase", attributes={"colour": "oak effect", "material": "Foil"}),
            Product(3, "d", "HEMNES bookcase", "Bookcase", attributes={"colour": "white stain"}),
            Product(4, "e", "Café table", "Table")]


@pytest.mark.parametrize("words, first, found", [
    ("oak bookcase", {2}, {2, 3}),  # both bookcases; the oak one holds both words
    ("bookcases", {2, 3}, {2, 3}),  # stemmed
    ("Armchair", {1}, {1}),
    ("cafe", {4}, {4}),  # accents are folded
    ("DARK GREY", {1}, {1}),
])
def test_words_find_the_products_that_hold_them(words, first, found):
    rows, relevance = TextIndex(PRODUCTS).search(words)
    assert rows[0] in first and set(rows.tolist()) == found
    assert relevance[0] == 1.0 and (relevance > 0).all() and (relevance <= 1).all()


@pytest.mark.parametrize("words", ["velvet", "", "!!", 'NOT "x" OR (', "bookcase*"])
def test_words_are_never_operators(words):
    rows, relevance = TextIndex(PRODUCTS).search(words)
    assert len(rows) == len(relevance) and set(rows.tolist()) <= ({2, 3} if "bookcase" in words else set())


def test_filler_words_of_a_phrase_match_nothing_alone():
    products = [Product(0, "a", "Sofa", "Sofa", attributes={"description": "Sits well in any room."}),
                Product(1, "b", "Sofa", "Sofa", attributes={"colour": "green"})]
    rows, _ = TextIndex(products).search("this, but in green")
    assert rows.tolist() == [1]  # "in" names no product; it would have brought the first
    rows, _ = TextIndex(products).search("in")  # filler alone is still searched
    assert rows.tolist() == [0]
