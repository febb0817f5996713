"""Where an index's vectors live and how they are searched: a `VectorBackend`, named in the manifest.

A backend stores one L2-normalised float32 vector per catalog row and returns each query's nearest
rows by inner product, among the rows a `core.types.Where` keeps. It translates the `Where` into its
own filter; a FAISS backend asks the product table for the rows (`select`) and searches those alone,
so a narrow filter still returns k rows when k exist. Every backend passes `tests/index/test_vectors.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, ClassVar, Protocol

import torch  # noqa: F401  (before faiss: see below)

import faiss  # noqa: I001
import numpy as np

from core.types import Where

from .errors import IndexCorruptError
from .manifest import VectorSpec

# torch is imported first on purpose. Both bring their own OpenMP runtime; loaded first, torch's is
# global and faiss runs on it too. The other way round each runs its own, and their threads contend:
# measured on 2 cores, a search's FAISS calls took twice as long (9 -> 16 ms a room photo).

# The rows a `Where` keeps (int64, ascending), or None for every row: `index.products.ProductTable.rows_where`.
Select = Callable[[Where], "np.ndarray | None"]


class VectorBackend(Protocol):
    kind: ClassVar[str]  # its name in the manifest (VectorSpec.backend)
    files: ClassVar[tuple[str, ...]]  # what it writes into an index version
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
        return np.stack([self.index.reconstruct(int(row)) for row in rows])


BACKENDS: dict[str, type] = {FaissFlatIP.kind: FaissFlatIP}


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
