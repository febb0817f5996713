"""The vector backends an index may name, and the one a new index gets: by name, or by the catalog's size."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import CatalogIndexError, IndexCorruptError
from .backend import BackendClass, Select, VectorBackend, VectorSpec
from .faiss import FaissFlatIP, FaissHNSW

BACKENDS: dict[str, BackendClass] = {FaissFlatIP.kind: FaissFlatIP, FaissHNSW.kind: FaissHNSW}
# Backends of an optional install (requirements-scale.txt), imported when a spec names one: kind -> (module, class).
OPTIONAL = {"milvus": ("index.vectors.milvus", "MilvusVectors")}
# Catalogs of up to this many photos are searched exactly, larger ones approximately, their recall measured
# at build. A query costs exact search N x D multiply-adds: on 2 cores (bench.scale), 1.1 ms at 10,000 x 512
# and 16 ms at 100,000 x 512, against HNSW's 0.12 and 0.18 ms at recall@10 0.99 and 0.97; a search
# makes one such query per object, and more.
EXACT_UPTO = 20_000


def spec_for(rows: int, wanted: str = "auto") -> VectorSpec:
    """The backend for a catalog of `rows` photos: `wanted` ("exact", "hnsw", "milvus" or "milvus:URI",
    `index.vectors.milvus`) or, with "auto", by size."""
    if wanted == "auto":
        wanted = "exact" if rows <= EXACT_UPTO else "hnsw"
    name, _, uri = wanted.partition(":")
    if name == "milvus":  # a Milvus Lite folder (*.db) given is relative to the caller's directory: made absolute
        return VectorSpec(name, {"uri": str(Path(uri).resolve()) if uri.endswith(".db") else uri} if uri else {})
    return VectorSpec({"exact": FaissFlatIP.kind, "hnsw": FaissHNSW.kind}[wanted])


def new_backend(spec: VectorSpec, dim: int) -> VectorBackend:
    """An empty backend of the kind `spec` names, for vectors of `dim`."""
    return _backend(spec).new(dim, spec.params)


def load_backend(spec: VectorSpec, folder: Path, select: Select) -> VectorBackend:
    return _backend(spec).load(folder, spec.params, select)


def backend_files(spec: VectorSpec) -> tuple[str, ...]:
    return _backend(spec).files


def describe(spec: VectorSpec) -> str:
    return _backend(spec).description


def _backend(spec: VectorSpec) -> BackendClass:
    if spec.backend in OPTIONAL:
        module, name = OPTIONAL[spec.backend]
        try:
            return getattr(importlib.import_module(module), name)
        except ModuleNotFoundError as exc:
            raise CatalogIndexError(
                f"The {spec.backend} vector backend needs {exc.name}, which is not installed: "
                f"pip install -r requirements-scale.txt"
            ) from exc
    if spec.backend not in BACKENDS:
        raise IndexCorruptError(
            f"The index's vectors are in a backend this Lookalike does not know, "
            f"{spec.backend!r} (it knows {', '.join([*BACKENDS, *OPTIONAL])}); rebuild the index."
        )
    return BACKENDS[spec.backend]
