"""The contract every vector backend (index.vectors.backends.BACKENDS) keeps: the nearest rows by inner product,
best first, only among the rows a Where keeps and k of them whenever k are kept, the same after a
commit and a load, and its stored vectors back for calibration."""

import importlib.util

import numpy as np
import pytest

from core.types import Product, Where
from index.store.kinds import ProductKinds, load_kind_rules
from index.store.products import FILES as TABLE_FILES
from index.store.products import ProductTable, write_table
from index.vectors.backend import VectorSpec
from index.vectors.backends import BACKENDS, EXACT_UPTO, OPTIONAL, load_backend, new_backend, spec_for
from index.vectors.faiss import FaissFlatIP, FaissHNSW
from index.vectors.recall import recall_at_10

DIM, ROWS = 16, 300
CATEGORIES = ("Chair", "Sofa", "Rug", "Table lamp", "")  # two detector classes, two of the shop's own kinds, none


@pytest.fixture(scope="module")
def table() -> ProductTable:
    products = [
        Product(row=i, id=f"P{i // 2}", category=CATEGORIES[i % 5] or None, price=float(i % 7) * 10 if i % 3 else None)
        for i in range(ROWS)
    ]
    return ProductTable(products, ProductKinds.of_categories([p.category for p in products], load_kind_rules(None)))


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    found = np.random.default_rng(0).normal(size=(ROWS, DIM)).astype(np.float32)
    return found / np.linalg.norm(found, axis=1, keepdims=True)


@pytest.fixture(params=sorted([*BACKENDS, *OPTIONAL]))
def backend(request, table, vectors, tmp_path):
    """A backend of each kind holding `vectors`, added in two batches, committed into a version of the
    index directory `tmp_path` beside its product table, and loaded back."""
    if request.param == "milvus" and importlib.util.find_spec("pymilvus") is None:
        pytest.skip("pymilvus is not installed (pip install -r requirements-scale.txt)")
    version = tmp_path / "v-1"
    version.mkdir()
    write_table(version, table.products, table.kinds)
    built = new_backend(VectorSpec(request.param), DIM)
    built.add(vectors[:100], np.arange(100))
    built.add(vectors[100:], np.arange(100, ROWS))
    params = built.commit(version)
    assert {*built.files, *TABLE_FILES} == {p.name for p in version.iterdir()}
    return load_backend(VectorSpec(request.param, params), version, table.rows_where)


QUERIES = np.random.default_rng(1).normal(size=(5, DIM)).astype(np.float32)
# How far a returned similarity may lie from the float32 one: the HNSW graph keeps its vectors as 16-bit floats.
TOLERANCE = {FaissHNSW.kind: 2e-3}


def test_the_nearest_rows_by_inner_product_best_first(backend, vectors):
    assert backend.dim == DIM and len(backend) == ROWS
    scores, rows = backend.search(QUERIES, 10)
    assert scores.shape == rows.shape == (5, 10)
    exact = QUERIES @ vectors.T
    for q in range(len(QUERIES)):
        assert np.all(np.diff(scores[q]) <= 1e-6)  # best first
        # the similarity of the row returned
        assert np.allclose(scores[q], exact[q, rows[q]], atol=TOLERANCE.get(backend.kind, 1e-5))
        recall = len(set(rows[q]) & set(np.argsort(-exact[q])[:10])) / 10
        assert recall >= 0.95


WHERES = {
    "a detector class": Where(kinds=("chair",)),  # with the products of no category, which may be chairs
    "the shop's own kinds": Where(kinds=("rug", "lamp")),
    "categories": Where(categories=("Sofa", "Rug")),
    "a price range": Where(min_price=20, max_price=40),
    "a class within a price range": Where(kinds=("couch",), max_price=30),
    "given rows": Where(rows=np.array([7, 3, 250, 3])),
    "a class among given rows": Where(kinds=("chair",), rows=np.arange(0, ROWS, 2)),
    "nothing": Where(kinds=("chair",), categories=("Rug",)),
}


@pytest.mark.parametrize("name", WHERES)
def test_only_the_rows_a_where_keeps_and_k_of_them_when_k_are_kept(backend, table, name):
    where = WHERES[name]
    kept = table.rows_where(where)
    _, rows = backend.search(QUERIES, 10, where)
    for found in rows:
        returned = found[found >= 0]
        assert set(returned) <= set(kept.tolist())
        assert len(returned) == min(10, len(kept))
        assert len(set(returned)) == len(returned)


@pytest.mark.parametrize("name", WHERES)
def test_an_approximate_index_searches_a_filter_in_its_graph_and_still_returns_k(table, vectors, monkeypatch, name):
    monkeypatch.setattr(FaissHNSW, "EXACT_UPTO", 0)  # no filter is small enough to be searched exactly
    monkeypatch.setattr(FaissHNSW, "EF_SEARCH", 10)  # a short candidate list: narrow filters run out of it
    graph = new_backend(VectorSpec(FaissHNSW.kind), DIM)
    graph.add(vectors, np.arange(ROWS))
    graph._select = table.rows_where
    kept = table.rows_where(WHERES[name])
    scores, rows = graph.search(QUERIES, 10, WHERES[name])
    for q, found in enumerate(rows):
        returned = found[found >= 0]
        assert set(returned) <= set(kept.tolist()) and len(returned) == min(10, len(kept))
        assert np.allclose(scores[q][: len(returned)], (QUERIES[q] @ vectors[returned].T), atol=TOLERANCE[graph.kind])


def test_recall_is_measured_against_exact_search(vectors):
    exact = new_backend(spec_for(ROWS), DIM)
    assert exact.kind == FaissFlatIP.kind and spec_for(EXACT_UPTO + 1).backend == FaissHNSW.kind
    assert spec_for(10, "hnsw").backend == FaissHNSW.kind and spec_for(10**7, "exact").backend == FaissFlatIP.kind
    exact.add(vectors, np.arange(ROWS))
    assert recall_at_10(exact, sample=50) == 1.0

    class HalfRight(FaissFlatIP):
        """Finds the 5 nearest rows, and 5 of the farthest."""

        def search(self, queries, k, where=None):
            scores, rows = super().search(queries, len(self))
            return scores[:, np.r_[0:5, -5:0]], rows[:, np.r_[0:5, -5:0]]

    assert recall_at_10(HalfRight(exact.index), sample=50) == 0.5


def test_fewer_rows_than_asked_are_padded(backend):
    _scores, rows = backend.search(QUERIES[:1], 8, Where(rows=np.array([5, 9])))
    assert sorted(rows[0][:2]) == [5, 9] and rows[0][2:].tolist() == [-1] * 6


def test_the_stored_vectors_come_back_for_calibration(backend, vectors):
    rows = np.array([0, 150, 299])
    assert np.allclose(backend.sample(rows), vectors[rows], atol=1e-3)


def test_the_table_translates_each_part_of_a_where(table):
    kinds = table.kinds
    assert table.rows_where(Where()) is None and table.count(Where()) == ROWS
    uncategorised = set(range(4, ROWS, 5))
    assert set(table.rows_where(Where(kinds=("chair",))).tolist()) == set(range(0, ROWS, 5)) | uncategorised
    own = set(table.rows_where(Where(kinds=("rug", "lamp"))).tolist())
    assert own == set(range(2, ROWS, 5)) | set(range(3, ROWS, 5))
    assert kinds.others.keys() == {"rug", "lamp"}
    priced = table.rows_where(Where(min_price=20, max_price=40))
    assert all(table.products[r].price is not None and 20 <= table.products[r].price <= 40 for r in priced)
    assert table.rows_where(Where(rows=np.array([9, 3, 3]))).tolist() == [3, 9]
    assert table.count(Where(kinds=("chair",), categories=("Rug",))) == 0
