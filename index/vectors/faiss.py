"""Vectors in FAISS: exact inner product (`FaissFlatIP`), or an HNSW graph (`FaissHNSW`) for large catalogs."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch  # noqa: F401  (before faiss: see below)

# isort: split
import faiss
import numpy as np

from core.types import Where

from ..errors import IndexCorruptError
from .backend import Select

# torch is imported first on purpose. Both bring their own OpenMP runtime; loaded first, torch's is
# global and faiss runs on it too. The other way round each runs its own, and their threads contend:
# measured on 2 cores, a search's FAISS calls took twice as long (9 -> 16 ms a room photo).


class FaissFlatIP:
    """Exact inner product (FAISS `IndexFlatIP`, ids = rows): right up to about a million vectors."""

    kind: ClassVar[str] = "faiss-flat-ip"
    files: ClassVar[tuple[str, ...]] = ("vectors.faiss",)
    description: ClassVar[str] = "exact inner product over L2-normalised vectors"
    approximate: ClassVar[bool] = False

    def __init__(self, index: faiss.Index, select: Select | None = None):
        self.index, self._select = index, select

    @classmethod
    def new(cls, dim: int, params: dict | None = None) -> FaissFlatIP:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def load(cls, folder: Path, params: dict, select: Select) -> FaissFlatIP:
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
                # faiss's stubs lack the keyword arguments its Python wrapper gives SearchParameters.
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(rows))  # type: ignore[call-arg]
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)

    def sample(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        return self.index.reconstruct_batch(rows) if len(rows) else np.zeros((0, self.dim), np.float32)


class FaissHNSW(FaissFlatIP):
    """Approximate inner product over a FAISS HNSW graph of 16-bit vectors (`IndexHNSWSQ`, its ids the rows,
    in the order they are put in the graph): a query visits a few thousand vectors rather than all of
    them. A filter keeping few rows is searched exactly among them; a wider one in the graph, among the
    rows it keeps, and exactly where the graph yields fewer than k of them. Indexes built before 16-bit
    storage (`IndexHNSWFlat` in an id map) load and search alike."""

    kind = "faiss-hnsw"
    description = "approximate inner product (HNSW graph) over L2-normalised vectors kept as 16-bit floats"
    approximate = True
    # Graph links per vector (M): 192 bytes a vector at the lowest level. Measured at 1M x 512 with float32
    # vectors (bench.scale's): M 24 gives recall@10 0.958 at efSearch 128 in 0.30 ms a query; M 23 and 22
    # give 0.91 and 0.90 (0.94 and 0.92 at efSearch 256).
    NEIGHBOURS = 24
    EF_CONSTRUCTION = 80
    EF_SEARCH = 128  # candidates a query keeps; at least 2k
    EXACT_UPTO = 5_000  # a filter keeping this many rows or fewer is searched exactly among them (3.8 ms)
    # A filter keeping a share s of the rows is searched with efSearch raised to EF_SEARCH * FILTERED_EF / s
    # (at most MOST_EF): the graph must look further to meet k of them. Measured at 1M x 512: a kind of
    # 5% at efSearch 256 gives recall@10 0.965 in 0.49 ms.
    FILTERED_EF = 0.1
    MOST_EF = 1024

    def __init__(self, index: faiss.Index, select: Select | None = None):
        super().__init__(index, select)
        # Vectors added and not yet in the graph. The graph is built in one pass when first needed: built
        # a batch at a time it links worse (recall@10 0.990 -> 0.967 at 200,000 x 512 in batches of 20,000).
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []

    @classmethod
    def new(cls, dim: int, params: dict | None = None) -> FaissHNSW:
        # Vectors kept as 16-bit floats: half the memory and 0.60x the raw float32 vectors on disk with the
        # graph, at recall@10 0.957 against 0.959 for float32 (1.10x), and faster (less memory read a
        # query). No id map (IndexIDMap2, 8 bytes a vector and more in memory): the rows are put in the
        # graph in order, so its own ids are the rows.
        # faiss's stubs want a ScalarQuantizer; the constructor takes the quantizer's type, QT_fp16 (an int).
        graph = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, cls.NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)  # type: ignore[arg-type]
        graph.hnsw.efConstruction = cls.EF_CONSTRUCTION
        return cls(graph)

    def __len__(self) -> int:
        return self.index.ntotal + sum(len(rows) for _, rows in self._pending)

    def add(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        self._pending.append((np.array(vectors, dtype=np.float32), np.array(rows, dtype=np.int64)))

    def _link(self) -> None:
        """Put the vectors added since into the graph, in one pass, in the order of their rows."""
        if self._pending:
            vectors, rows = (np.concatenate(part) for part in zip(*self._pending))
            self._pending = []
            order = np.argsort(rows, kind="stable")
            if not np.array_equal(rows[order], np.arange(self.index.ntotal, self.index.ntotal + len(rows))):
                raise ValueError("An HNSW index's rows are added as 0 to N - 1, each once.")
            self.index.add(np.ascontiguousarray(vectors[order]))

    def sample(self, rows: np.ndarray) -> np.ndarray:
        self._link()
        return super().sample(rows)

    def commit(self, folder: Path) -> dict[str, str | int | float]:
        self._link()
        faiss.write_index(self.index, str(folder / self.files[0]))
        return {"neighbours": self.NEIGHBOURS, "ef_search": self.EF_SEARCH}

    def search(self, queries: np.ndarray, k: int, where: Where | None = None) -> tuple[np.ndarray, np.ndarray]:
        self._link()
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        rows = None
        if where:
            if self._select is None:
                raise ValueError("This backend was made without a product table: it cannot filter.")
            rows = self._select(where)
            rows = None if rows is None else np.asarray(rows, np.int64)
        if rows is not None and len(rows) <= max(self.EXACT_UPTO, k):
            return exact(self.sample(rows), rows, queries, k)
        ef, selector = max(self.EF_SEARCH, 2 * k), None
        if rows is not None:
            bitmap = np.zeros((len(self) + 7) // 8, np.uint8)  # kept, a bit a row: checked at every step
            np.bitwise_or.at(bitmap, rows >> 3, (1 << (rows & 7)).astype(np.uint8))
            selector = faiss.IDSelectorBitmap(len(self), faiss.swig_ptr(bitmap))
            ef = min(self.MOST_EF, max(ef, round(ef * self.FILTERED_EF * len(self) / len(rows))))
        # faiss's stubs lack SearchParametersHNSW, which the library has.
        params = faiss.SearchParametersHNSW(efSearch=ef, sel=selector)  # type: ignore[attr-defined]
        scores, found = self.index.search(queries, k, params=params)
        short = (found < 0).any(axis=1) & (k <= (len(self) if rows is None else len(rows)))
        for q in np.flatnonzero(short):  # the graph ran out of kept rows near this query
            kept = np.arange(len(self), dtype=np.int64) if rows is None else rows
            scores[q], found[q] = (part[0] for part in exact(self.sample(kept), kept, queries[q : q + 1], k))
        return scores, found


def exact(vectors: np.ndarray, rows: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best of `rows` (whose `vectors` they are) for each query, padded with row -1, as FAISS pads."""
    scores, at = (
        faiss.knn(queries, vectors, min(k, len(rows)), metric=faiss.METRIC_INNER_PRODUCT)
        if len(rows)
        else (np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64))
    )
    found = np.where(at >= 0, rows[np.maximum(at, 0)], -1) if len(rows) else at
    pad = k - found.shape[1]
    return (
        np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf).astype(np.float32),
        np.pad(found, ((0, 0), (0, pad)), constant_values=-1).astype(np.int64),
    )
