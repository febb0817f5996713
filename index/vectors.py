"""Where an index's vectors live and how they are searched: a `VectorBackend`, named in the manifest.

A backend stores one L2-normalised float32 vector per catalog row and returns each query's nearest
rows by inner product, among the rows a `core.types.Where` keeps. It translates the `Where` into its
own filter; a FAISS backend asks the product table for the rows (`select`) and searches those alone,
so a narrow filter still returns k rows when k exist. Every backend passes `tests/index/test_vectors.py`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, ClassVar, Protocol

import torch  # noqa: F401  (before faiss: see below)

import faiss  # noqa: I001
import numpy as np

from core.types import Where

from .errors import IndexCorruptError
from .manifest import VectorSpec

log = logging.getLogger(__name__)

# torch is imported first on purpose. Both bring their own OpenMP runtime; loaded first, torch's is
# global and faiss runs on it too. The other way round each runs its own, and their threads contend:
# measured on 2 cores, a search's FAISS calls took twice as long (9 -> 16 ms a room photo).

# The rows a `Where` keeps (int64, ascending), or None for every row: `index.products.ProductTable.rows_where`.
Select = Callable[[Where], "np.ndarray | None"]


class VectorBackend(Protocol):
    kind: ClassVar[str]  # its name in the manifest (VectorSpec.backend)
    files: ClassVar[tuple[str, ...]]  # what it writes into an index version
    approximate: ClassVar[bool]  # whether it may miss some of the nearest rows (its recall is then measured)
    dim: int

    def __len__(self) -> int: ...

    def add(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        """Store (N, D) `vectors` as the catalog `rows` (N,)."""

    def commit(self, folder: Path) -> dict[str, str | int | float]:
        """Write its files into the version `folder`; the parameters the manifest records to load them."""

    def search(self, queries: np.ndarray, k: int, where: Where | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest rows to each of (N, D) `queries` among those `where` keeps, best first: (N, k)
        similarities and (N, k) rows, padded with row -1 where fewer are kept."""

    def sample(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of `rows`, (len(rows), D): what calibration measures the catalog on."""


class FaissFlatIP:
    """Exact inner product (FAISS `IndexFlatIP`, ids = rows): right up to about a million vectors."""

    kind = "faiss-flat-ip"
    files = ("vectors.faiss",)
    description = "exact inner product over L2-normalised vectors"
    approximate = False

    def __init__(self, index: faiss.Index, select: Select | None = None):
        self.index, self._select = index, select

    @classmethod
    def new(cls, dim: int, params: dict | None = None) -> "FaissFlatIP":
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def load(cls, folder: Path, params: dict, select: Select) -> "FaissFlatIP":
        try:
            return cls(faiss.read_index(str(folder / cls.files[0])), select)
        except RuntimeError as exc:
            raise IndexCorruptError(f"The vectors of {folder} cannot be read; rebuild the index. ({exc})") from exc

    @property
    def dim(self) -> int:
        return self.index.d

    def __len__(self) -> int:
        return self.index.ntotal

    def add(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(rows, np.int64))

    def commit(self, folder: Path) -> dict[str, str | int | float]:
        faiss.write_index(self.index, str(folder / self.files[0]))
        return {}

    def search(self, queries: np.ndarray, k: int, where: Where | None = None) -> tuple[np.ndarray, np.ndarray]:
        params = None
        if where:
            if self._select is None:
                raise ValueError("This backend was made without a product table: it cannot filter.")
            rows = self._select(where)
            if rows is not None:
                rows = np.ascontiguousarray(rows, dtype=np.int64)  # rows must outlive the search
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(rows))
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)

    def sample(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        return self.index.reconstruct_batch(rows) if len(rows) else np.zeros((0, self.dim), np.float32)


class FaissHNSW(FaissFlatIP):
    """Approximate inner product over a FAISS HNSW graph (`IndexHNSWFlat`, ids = rows): a query visits a
    few thousand vectors rather than all of them. A filter is searched in the graph, among the rows it
    keeps; where the graph yields fewer than k of them (a narrow filter), those rows are searched exactly."""

    kind = "faiss-hnsw"
    description = "approximate inner product (HNSW graph) over L2-normalised vectors"
    approximate = True
    NEIGHBOURS = 16  # graph links per vector (M): 128 bytes a vector at the lowest level, 1.06x 512-d float32
    EF_CONSTRUCTION = 80
    EF_SEARCH = 64  # candidates a query keeps; at least 2k
    EXACT_UPTO = 20_000  # a filter keeping this many rows or fewer is searched exactly among them

    @classmethod
    def new(cls, dim: int, params: dict | None = None) -> "FaissHNSW":
        graph = faiss.IndexHNSWFlat(dim, cls.NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        graph.hnsw.efConstruction = cls.EF_CONSTRUCTION
        return cls(faiss.IndexIDMap2(graph))

    def commit(self, folder: Path) -> dict[str, str | int | float]:
        faiss.write_index(self.index, str(folder / self.files[0]))
        return {"neighbours": self.NEIGHBOURS, "ef_search": self.EF_SEARCH}

    def search(self, queries: np.ndarray, k: int, where: Where | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        rows = None
        if where:
            if self._select is None:
                raise ValueError("This backend was made without a product table: it cannot filter.")
            rows = self._select(where)
        if rows is not None and len(rows) <= max(self.EXACT_UPTO, k):
            return _exact(self.sample(rows), np.asarray(rows, np.int64), queries, k)
        selector = None if rows is None else faiss.IDSelectorBatch(np.ascontiguousarray(rows, dtype=np.int64))
        params = faiss.SearchParametersHNSW(efSearch=max(self.EF_SEARCH, 2 * k), sel=selector)
        scores, found = self.index.search(queries, k, params=params)
        short = (found < 0).any(axis=1) & (k <= (len(self) if rows is None else len(rows)))
        for q in np.flatnonzero(short):  # the graph ran out of kept rows near this query
            kept = np.arange(len(self), dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
            scores[q], found[q] = (part[0] for part in _exact(self.sample(kept), kept, queries[q:q + 1], k))
        return scores, found


def _exact(vectors: np.ndarray, rows: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best of `rows` (whose `vectors` they are) for each query, padded with row -1, as FAISS pads."""
    scores, at = faiss.knn(queries, vectors, min(k, len(rows)), metric=faiss.METRIC_INNER_PRODUCT) if len(rows) \
        else (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
    found = np.where(at >= 0, rows[np.maximum(at, 0)], -1) if len(rows) else at
    pad = k - found.shape[1]
    return (np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf).astype(np.float32),
            np.pad(found, ((0, 0), (0, pad)), constant_values=-1).astype(np.int64))


BACKENDS: dict[str, type] = {FaissFlatIP.kind: FaissFlatIP, FaissHNSW.kind: FaissHNSW}
RECALL_CHUNK = 100_000  # catalog vectors held at once while recall is measured
RECALL_FLOOR = 0.95
# Catalogs of up to this many photos are searched exactly (about N x D x 2 flops a query: 100,000 x 512
# is 0.1 GFLOP, a few milliseconds on 2 cores); larger ones approximately, their recall measured at build.
EXACT_UPTO = 100_000


def spec_for(rows: int, wanted: str = "auto") -> VectorSpec:
    """The backend for a catalog of `rows` photos: `wanted` ("exact", "hnsw") or, with "auto", by size."""
    if wanted == "auto":
        wanted = "exact" if rows <= EXACT_UPTO else "hnsw"
    return VectorSpec({"exact": FaissFlatIP.kind, "hnsw": FaissHNSW.kind}[wanted])


def commit_measured(vectors: VectorBackend, folder: Path) -> VectorSpec:
    """Write `vectors` into the version `folder`: its spec for the manifest, with the recall@10 of an
    approximate backend against exact search (`recall_at_10`), which is warned of under RECALL_FLOOR."""
    params = vectors.commit(folder)
    if vectors.approximate:
        params["recall_at_10"] = round(recall_at_10(vectors), 4)
        if params["recall_at_10"] < RECALL_FLOOR:
            log.warning("The approximate index finds %.2f of the 10 nearest products of a sample (under %.2f): "
                        "searches may miss close matches. Build it exact with LOOKALIKE_VECTOR_INDEX=exact.",
                        params["recall_at_10"], RECALL_FLOOR)
    return VectorSpec(vectors.kind, params)


def recall_at_10(vectors: VectorBackend, sample: int = 1000, seed: int = 0) -> float:
    """The share of the 10 exact nearest rows that `vectors` returns, on average, for `sample` of its
    own vectors as queries (rows 0 to N - 1): 1.0 for an exact backend."""
    count = len(vectors)
    k = min(10, count)
    queries = vectors.sample(np.random.default_rng(seed).choice(count, size=min(sample, count), replace=False))
    _, found = vectors.search(queries, k)
    best = np.full((len(queries), 0), -np.inf, np.float32), np.zeros((len(queries), 0), np.int64)
    for start in range(0, count, RECALL_CHUNK):  # the exact answer, a chunk of the catalog at a time
        part = np.arange(start, min(start + RECALL_CHUNK, count), dtype=np.int64)
        scores, rows = (np.hstack(pair) for pair in zip(best, _exact(vectors.sample(part), part, queries, k)))
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(scores, top, 1), np.take_along_axis(rows, top, 1)
    return float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, best[1])]))


def new_backend(spec: VectorSpec, dim: int) -> VectorBackend:
    """An empty backend of the kind `spec` names, for vectors of `dim`."""
    return _backend(spec).new(dim, spec.params)


def load_backend(spec: VectorSpec, folder: Path, select: Select) -> VectorBackend:
    return _backend(spec).load(folder, spec.params, select)


def backend_files(spec: VectorSpec) -> tuple[str, ...]:
    return _backend(spec).files


def describe(spec: VectorSpec) -> str:
    return _backend(spec).description


def _backend(spec: VectorSpec) -> type:
    if spec.backend not in BACKENDS:
        raise IndexCorruptError(f"The index's vectors are in a backend this Lookalike does not know, "
                                f"{spec.backend!r} (it knows {', '.join(BACKENDS)}); rebuild the index.")
    return BACKENDS[spec.backend]
