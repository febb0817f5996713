"""Vectors served by Milvus (`pymilvus`): a Milvus server or cluster by URL, or Milvus Lite, the engine
embedded in the process, in a local folder ending in `.db`. An optional install: requirements-scale.txt.

Each index version is one collection, `lookalike_<directory id>_<version>`, holding each catalog row's
vector with what a `Where` narrows by: the row's kinds, category and price, read from the version's
product table at commit. A `Where` becomes a Milvus boolean expression over those fields, so the engine
filters as it searches and a narrow filter still returns k rows when k are kept. The search is exact
(a FLAT index, inner product): the same rows as `FaissFlatIP`.

The vectors live outside the index version: the store checksums every file of a version and Milvus
Lite rewrites its folder whenever it is opened. Milvus Lite's folder defaults to `milvus.db` in the
index directory, recorded relative to it, so that the directory can be moved whole. A build drops the
collections of this index directory whose version folder is gone (the store keeps the live version and
the one before), and never another directory's. Milvus Lite is opened by one process at a time: build
while the app that serves it is stopped, or build from the app, or serve from a server.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pymilvus import DataType, MilvusClient, MilvusException

from core.types import Where
from index.errors import CatalogIndexError, IndexCorruptError
from index.store.kinds import ProductKinds
from index.store.products import FILES as TABLE_FILES

LITE_DEFAULT = "milvus.db"  # Milvus Lite's folder in the index directory, when no URI is given
TOKEN_VARIABLE = "LOOKALIKE_MILVUS_TOKEN"  # a server's "user:password" or API key; never written to the manifest
INSERT_BATCH = 2_000  # rows a request: 4 MB of 512-d vectors, well under gRPC's 64 MB
QUERY_BATCH = 10_000  # rows fetched a request; Milvus returns at most 16,384
CONNECT_TIMEOUT_S = 10
_COLLECTION = re.compile(r"lookalike_([0-9a-f]{8})_(v_\w+)")
_SERVERS = ("http://", "https://", "tcp://", "unix:")


class MilvusError(CatalogIndexError):
    """Milvus cannot be reached or opened, or refused a request."""


class MilvusVectors:
    """Exact inner product in a Milvus collection (FLAT index). On a server, at tens of millions of
    vectors, an HNSW index (M 24, ef 128, as `FaissHNSW`) would answer in a few ms, its recall measured;
    not built yet."""

    kind: ClassVar[str] = "milvus"
    files: ClassVar[tuple[str, ...]] = ()  # the vectors are in Milvus, outside the version
    description: ClassVar[str] = "exact inner product in a Milvus collection over L2-normalised vectors"
    approximate: ClassVar[bool] = False

    def __init__(self, dim: int, uri: str, client: MilvusClient | None = None, collection: str = "", count: int = 0):
        self.dim, self.uri, self._client, self.collection, self._count = dim, uri, client, collection, count
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # added, inserted at commit with the table's fields

    @classmethod
    def new(cls, dim: int, params: dict | None = None) -> MilvusVectors:
        """`params["uri"]`: a server's URL, or Milvus Lite's folder (a relative one is in the index directory)."""
        uri = str((params or {}).get("uri") or LITE_DEFAULT)
        if not uri.startswith(_SERVERS) and not uri.endswith(".db"):
            raise MilvusError(
                f"The Milvus URI must be a server's URL (http://host:19530) or a Milvus Lite folder "
                f"ending in .db, got {uri!r}."
            )
        return cls(dim, uri)

    @classmethod
    def load(cls, folder: Path, params: dict, select=None) -> MilvusVectors:
        """The collection the version `folder` names; its filters need no product table (`select`)."""
        uri, collection = str(params.get("uri", "")), str(params.get("collection", ""))
        client = _connect(_address(uri, folder.parent))
        if not client.has_collection(collection):
            raise IndexCorruptError(
                f"The vectors of {folder} are missing: Milvus at {uri} has no collection "
                f"{collection!r}. Rebuild the index."
            )
        client.load_collection(collection)
        field = next(f for f in client.describe_collection(collection)["fields"] if f["name"] == "vector")
        count = client.query(collection, filter="", output_fields=["count(*)"])[0]["count(*)"]
        return cls(int(field["params"]["dim"]), uri, client, collection, int(count))

    def __len__(self) -> int:
        return self._count + sum(len(rows) for _, rows in self._pending)

    def add(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        self._pending.append((np.array(vectors, dtype=np.float32), np.array(rows, dtype=np.int64)))

    def commit(self, folder: Path) -> dict[str, str | int | float]:
        """Insert the vectors, with the fields of the product table already in `folder`, into a new
        collection; drop the collections of versions gone from the index directory."""
        directory = folder.parent
        vectors, rows = (
            (np.concatenate(part) for part in zip(*self._pending))
            if self._pending
            else (np.zeros((0, self.dim), np.float32), np.zeros(0, np.int64))
        )
        kinds, categories, prices = _fields(folder)
        client = _connect(_address(self.uri, directory))
        name = f"lookalike_{_directory_id(directory)}_{_version(folder)}"
        _create(client, name, self.dim, kinds, categories)
        for start in range(0, len(rows), INSERT_BATCH):
            client.insert(
                name,
                [
                    {
                        "row": int(row),
                        "vector": vectors[i],
                        "kinds": kinds[row],
                        "category": categories[row],
                        "price": prices[row],
                    }
                    for i, row in enumerate(rows[start : start + INSERT_BATCH].tolist(), start)
                ],
            )
        client.flush(name)
        client.load_collection(name)
        _drop_stale(client, directory)
        self._client, self.collection, self._count, self._pending = client, name, len(rows), []
        return {"uri": _recorded(self.uri, directory), "collection": name}

    def search(self, queries: np.ndarray, k: int, where: Where | None = None) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        scores = np.full((len(queries), k), -np.inf, np.float32)
        found = np.full((len(queries), k), -1, np.int64)
        if where is not None and where.rows is not None and not len(where.rows):
            return scores, found
        hits = self._stored().search(
            self.collection,
            data=list(queries),
            limit=k,
            filter=expression(where),
            output_fields=["row"],
            search_params={"metric_type": "IP"},
        )
        for q, best in enumerate(hits):
            scores[q, : len(best)] = [hit["distance"] for hit in best]
            found[q, : len(best)] = [hit["row"] for hit in best]
        return scores, found

    def sample(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, np.int64)
        out = np.zeros((len(rows), self.dim), np.float32)
        for start in range(0, len(rows), QUERY_BATCH):
            part = rows[start : start + QUERY_BATCH]
            got = {
                r["row"]: r["vector"]
                for r in self._stored().get(self.collection, ids=part.tolist(), output_fields=["vector"])
            }
            out[start : start + len(part)] = [got[row] for row in part.tolist()]
        return out

    def _stored(self) -> MilvusClient:
        if self._client is None:
            raise RuntimeError("The Milvus vectors are searched once committed.")
        return self._client


def expression(where: Where | None) -> str:
    """`where` as a Milvus boolean expression over the collection's fields; "" keeps every row. Values are
    written out, not passed as template parameters, which Milvus Lite does not take."""
    if not where:
        return ""
    parts = []
    # A row's kinds are one string, "|chair|bed|": its detector classes (all, for an uncategorised row) or its own.
    # Not an ARRAY field: Milvus Lite checks array_contains_any row by row, 310 ms a query at 10,000 rows against
    # 6.6 ms for LIKE. In LIKE "_" matches any one character: a kind could only be confused with another of the
    # same length that differs there ("wall_art", "wall art").
    if where.kinds:
        parts.append("(" + " or ".join(f"kinds like {_string(f'%|{kind}|%')}" for kind in where.kinds) + ")")
    if where.categories:
        parts.append(f"category in [{', '.join(map(_string, where.categories))}]")
    if where.min_price is not None:  # a null price fails every comparison: out of every price range
        parts.append(f"price >= {float(where.min_price)!r}")
    if where.max_price is not None:
        parts.append(f"price <= {float(where.max_price)!r}")
    if where.rows is not None:
        parts.append(f"row in [{', '.join(str(int(row)) for row in np.unique(where.rows))}]")
    return " and ".join(parts)


_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _string(value: str) -> str:
    return '"' + value.translate(_ESCAPES) + '"'


def _fields(folder: Path) -> tuple[list[str], list[str], list[float | None]]:
    """Each row's kinds, category ("" for none) and price (None for none) from the product table in `folder`."""
    try:
        columns = pq.read_table(folder / TABLE_FILES[0], columns=["category", "price"])
        table = ProductKinds.from_json((folder / TABLE_FILES[1]).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        raise CatalogIndexError(
            f"Milvus stores the products' kinds, categories and prices with their vectors: "
            f"write the product table into {folder} before the vectors. ({exc})"
        ) from exc
    kinds: list[list[str]] = [[] for _ in range(columns.num_rows)]
    for kind, rows in (*table.rows.items(), *table.others.items()):
        for row in rows.tolist():
            kinds[row].append(kind)
    categories = [c or "" for c in columns.column("category").to_pylist()]
    return [f"|{'|'.join(row)}|" for row in kinds], categories, columns.column("price").to_pylist()


def _create(client: MilvusClient, name: str, dim: int, kinds: list[str], categories: list[str]) -> None:
    """A collection for these rows, its string fields as long as the longest value needs."""
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    for field, values in (("kinds", kinds), ("category", categories)):
        schema.add_field(field, DataType.VARCHAR, max_length=max((len(v.encode()) for v in values), default=0) or 1)
    schema.add_field("price", DataType.DOUBLE, nullable=True)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index)


def _drop_stale(client: MilvusClient, directory: Path) -> None:
    """Drop this directory's collections whose version is gone: neither live (v-*) nor being built."""
    mine, present = _directory_id(directory), {_version(folder) for folder in directory.iterdir()}
    for name in client.list_collections():
        match = _COLLECTION.fullmatch(name)
        if match and match[1] == mine and match[2] not in present:
            client.drop_collection(name)


def _version(folder: Path) -> str:
    """The version a folder is or becomes (index.store.versions: `.building-<pid>-v-...` -> `v-...`), as a collection
    name may spell it: `v_...`."""
    name = folder.name[folder.name.find("v-") :] if "v-" in folder.name else f"v-{folder.name}"
    return re.sub(r"[^0-9A-Za-z_]", "_", name)


def _directory_id(directory: Path) -> str:
    """Tells apart the collections of index directories sharing one server."""
    return hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:8]


def _address(uri: str, directory: Path) -> str:
    """What to connect to for a recorded or given `uri`: Milvus Lite's folder relative to the index directory."""
    return uri if uri.startswith(_SERVERS) else str(directory / uri)


def _recorded(uri: str, directory: Path) -> str:
    """`uri` as the manifest records it: a Milvus Lite folder inside the index directory relative to it."""
    if uri.startswith(_SERVERS):
        return uri
    path = (directory / uri).resolve()
    return path.relative_to(directory.resolve()).as_posix() if path.is_relative_to(directory.resolve()) else str(path)


def _connect(address: str) -> MilvusClient:
    lite = not address.startswith(_SERVERS)
    if lite and importlib.util.find_spec("milvus_lite") is None:
        raise CatalogIndexError(
            f"Milvus Lite ({address}) needs milvus-lite, which is not installed: pip install -r requirements-scale.txt"
        )
    try:
        if lite:
            Path(address).parent.mkdir(parents=True, exist_ok=True)
        return MilvusClient(address, token=os.environ.get(TOKEN_VARIABLE, ""), timeout=CONNECT_TIMEOUT_S)
    except MilvusException as exc:
        if lite:
            raise MilvusError(
                f"Milvus Lite cannot open {address} ({exc.message}): another process may be using it "
                f"(Milvus Lite serves one process at a time; share vectors through a Milvus server)."
            ) from exc
        raise MilvusError(
            f"Milvus at {address} cannot be reached ({exc.message or exc}): start the server, or "
            f"check the URI and ${TOKEN_VARIABLE}."
        ) from exc
