"""The contract every vector backend keeps, and the spec that names one in an index's manifest.

A backend stores one L2-normalised float32 vector per catalog row and returns each query's nearest
rows by inner product, among the rows a `core.types.Where` keeps. It translates the `Where` into its
own filter; a FAISS backend asks the product table for the rows (`select`) and searches those alone,
so a narrow filter still returns k rows when k exist. Every backend passes `tests/index/test_vectors.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np

from core.types import Where

# The rows a `Where` keeps (int64, ascending), or None for every row: `index.store.products.ProductTable.rows_where`.
Select = Callable[[Where], "np.ndarray | None"]


@dataclass(frozen=True)
class VectorSpec:
    """Which vector backend holds an index's vectors, and with what parameters."""

    backend: str = "faiss-flat-ip"
    params: dict[str, str | int | float] = field(default_factory=dict)


class VectorBackend(Protocol):
    kind: ClassVar[str]  # its name in the manifest (VectorSpec.backend)
    files: ClassVar[tuple[str, ...]]  # what it writes into an index version
    approximate: ClassVar[bool]  # whether it may miss some of the nearest rows (its recall is then measured)

    @property
    def dim(self) -> int: ...

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


class BackendClass(Protocol):
    """A backend's class, as an index names it (`index.vectors.backends`): what makes, loads and describes one."""

    @property
    def files(self) -> tuple[str, ...]: ...

    @property
    def description(self) -> str: ...

    def new(self, dim: int, params: dict | None = None) -> VectorBackend:
        """An empty backend for vectors of `dim`."""

    def load(self, folder: Path, params: dict, select: Select) -> VectorBackend:
        """The backend a version `folder` holds, with the parameters its manifest records."""
