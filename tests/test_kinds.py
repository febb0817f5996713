"""Product kinds from catalog category text, and search restricted to one kind."""

import json

import faiss
import numpy as np
import pytest

from index.store import CatalogIndex, Product
from search.kinds import KindRules, KindRulesError, ProductKinds, load_kind_rules

RULES = load_kind_rules(None)


@pytest.mark.parametrize("category, kinds", [
    ("Chair", {"chair"}),
    ("chairs", {"chair"}),  # plural category names, as shops write them
    ("Coffee table", {"dining table"}),
    ("Table lamp", set()),  # the head is "lamp": a lamp, not a table
    ("Chair pad", set()),
    ("Cushion cover", set()),
    ("Three-seat sofa", {"couch"}),
    ("Three-seat sofa-bed", {"couch", "bed"}),
    ("sofas", {"couch"}),
    ("Bed frame with storage", {"bed"}),  # the qualifier after "with" is dropped
    ("Rug, flatwoven", set()),
    ("Table, outdoor", {"dining table"}),
    ("Floor,reading lamp", set()),
    ("Deep plate,bowl", {"bowl"}),  # "plate/bowl": either alternative counts
    ("Wash-basin", {"sink"}),
    ("Microwave oven", {"microwave", "oven"}),
    ("benches", {"bench"}),
    ("", set()),
    (None, set()),
])
def test_default_rules_read_the_head_of_the_category(category, kinds):
    assert RULES.kinds_of(category) == kinds


def test_custom_rules_from_json(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"chair": ["stol"], "couch": ["soffa", "hörnsoffa"]}))
    rules = load_kind_rules(path)
    assert rules.kinds_of("Stol") == {"chair"} and rules.kinds_of("Hörnsoffa") == {"couch"}
    assert rules.kinds_of("Chair") == set()  # the defaults are replaced, not extended


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"chair": "stol"}'])
def test_bad_rules_are_refused(tmp_path, text):
    path = tmp_path / "rules.json"
    path.write_text(text)
    with pytest.raises(KindRulesError):
        load_kind_rules(path)
    with pytest.raises(KindRulesError, match="Cannot read"):
        load_kind_rules(tmp_path / "missing.json")


def _index(vectors, categories) -> CatalogIndex:
    vectors = np.asarray(vectors, dtype=np.float32)
    faiss.normalize_L2(vectors)
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    flat.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    products = [Product(row=i, id=f"P{i}", category=c) for i, c in enumerate(categories)]
    return CatalogIndex(flat, products, {"products": len(products)})


def test_search_within_a_kind_returns_only_that_kind():
    # The query is closest to P0 (a lamp), then P1 (a chair), then P2 (a sofa), then P3 (a chair).
    index = _index([[1, 0, 0], [0.9, 0.1, 0], [0.8, 0.2, 0], [0, 1, 0]],
                   ["Table lamp", "Chair", "Sofa", "Armchair"])
    kinds = ProductKinds.of_index(index, RULES)
    assert kinds.classes == ("chair", "couch") and "chair" in kinds and "bed" not in kinds
    scores, rows = kinds.search(index, np.array([[1, 0, 0]], dtype=np.float32), "chair", 3)
    assert rows[0].tolist() == [1, 3, -1]  # both chairs, best first, then nothing
    assert scores[0][0] == pytest.approx(0.9 / np.linalg.norm([0.9, 0.1]))
    assert kinds.of_row[2] == {"couch"} and kinds.of_row[0] == frozenset()


def test_products_without_a_category_take_part_in_every_kind():
    # P3 has no category: it may be a chair or a sofa. P0, a lamp, is neither.
    index = _index([[1, 0, 0], [0.9, 0.1, 0], [0.8, 0.2, 0], [0.95, 0.05, 0]], ["Table lamp", "Chair", "Sofa", ""])
    kinds = ProductKinds.of_index(index, RULES)
    query = np.array([[1, 0, 0]], dtype=np.float32)
    assert kinds.search(index, query, "chair", 4)[1][0].tolist() == [3, 1, -1, -1]
    assert kinds.search(index, query, "couch", 4)[1][0].tolist() == [3, 2, -1, -1]
    assert kinds.of_row[3] == frozenset()  # it vouches for no kind when unsure detections are checked


def test_a_catalog_without_categories_has_no_kinds():
    kinds = ProductKinds([None, "", "Lamp"], RULES)
    assert not kinds and kinds.classes == ()


def test_rules_match_whole_words_only():
    rules = KindRules.from_mapping({"bed": ["bed"]})
    assert rules.kinds_of("Flowerbed") == set() and rules.kinds_of("Day-bed") == {"bed"}
