"""A built catalog index on disk: FAISS vectors, product rows (JSON, no pickle), thumbnails, manifest.

Layout of an index directory:
    DIR/CURRENT             name of the live version and its manifest's SHA-256, replaced atomically
                            when a build finishes
    DIR/v-<utc time>-<id>/  manifest.json, vectors.faiss, products.jsonl, images/<row>.jpg
A build writes a new version beside the live one and only then flips CURRENT, so a build that
dies half way leaves the earlier index loadable. The manifest holds every other file's SHA-256,
checked at load: a damaged version is refused, never served. No other module holds a FAISS index.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import faiss
import numpy as np

from core.types import Filters, Match, Product

from .calibration import calibrate
from .errors import CatalogIndexError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from .manifest import Manifest, sha256
from .text import TextIndex

STALE_AFTER_S = 24 * 3600  # a build still running after this long is taken for dead


class CatalogIndex:
    """The loaded index: one row per catalog photo, several rows for a product with several photos."""

    def __init__(self, vectors: faiss.Index, products: Sequence[Product], manifest: Manifest, path: Path):
        self.vectors, self.products, self.manifest, self.path = vectors, list(products), manifest, path
        self.text = TextIndex(self.products)
        self.categories = sorted({p.category for p in self.products if p.category})
        self._category = np.array([p.category or "" for p in self.products], dtype=object)
        self._price = np.array([p.price if isinstance(p.price, (int, float)) else np.nan for p in self.products],
                               dtype=np.float64)
        self.has_prices = bool(np.isfinite(self._price).any())
        self._photos_per_product = len(self.products) / max(len({p.id for p in self.products}), 1)

    def __len__(self) -> int:
        return len(self.products)

    @property
    def dim(self) -> int:
        return self.vectors.d

    def search(self, queries: np.ndarray, k: int, rows: np.ndarray | None = None) -> list[list[Match]]:
        """Top-`k` products for each row of `queries` (N, D), best first, only among `rows` when given;
        each product once, at its best photo's similarity."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise IndexMismatchError(f"Queries of shape {queries.shape} do not fit an index of dimension {self.dim}.")
        params = None
        if rows is not None:
            rows = np.ascontiguousarray(rows, dtype=np.int64)
            if not len(rows):
                return [[] for _ in queries]
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(rows))  # rows must outlive the search
        available = len(self) if rows is None else len(rows)
        depth = k if self._photos_per_product == 1 else int(k * self._photos_per_product * 2)
        while True:  # deeper until every query has k distinct products, or every photo was looked at
            scores, ids = self.vectors.search(queries, min(depth, available), params=params)
            found = [self._distinct(row_scores, row_ids, k) for row_scores, row_ids in zip(scores, ids)]
            if depth >= available or all(len(matches) == k for matches in found):
                return found
            depth *= 4

    def _distinct(self, scores: np.ndarray, ids: np.ndarray, k: int) -> list[Match]:
        matches, seen = [], set()
        for s, i in zip(scores, ids):
            if i < 0 or self.products[i].id in seen:
                continue
            seen.add(self.products[i].id)
            matches.append(Match(self.products[i], float(s)))
            if len(matches) == k:
                break
        return matches

    def rows_where(self, filters: Filters) -> np.ndarray | None:
        """The rows `filters` keep (int64, ascending); None when they keep every row."""
        if not filters:
            return None
        keep = np.ones(len(self), dtype=bool)
        if filters.categories:
            keep &= np.isin(self._category, list(filters.categories))
        if filters.min_price is not None:
            keep &= self._price >= filters.min_price  # a product without a price is out of every price range
        if filters.max_price is not None:
            keep &= self._price <= filters.max_price
        return np.flatnonzero(keep).astype(np.int64)

    def check_encoder(self, encoder) -> None:
        """Refuse an encoder other than the one the index was built with."""
        self.manifest.check_encoder(encoder, self.path)

    @classmethod
    def load(cls, directory: str | Path, encoder=None) -> "CatalogIndex":
        version, digest = _pointer(directory)
        manifest = Manifest.read(version / "manifest.json", digest)
        _verify(version, manifest.checksums)
        try:
            vectors = faiss.read_index(str(version / "vectors.faiss"))
        except RuntimeError as exc:
            raise IndexCorruptError(f"The vectors of {version} cannot be read; rebuild the index. ({exc})") from exc
        try:
            with (version / "products.jsonl").open(encoding="utf-8") as f:
                products = [_absolute_image(Product(**json.loads(line)), version) for line in f]
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorruptError(f"The product list of {version} cannot be read; rebuild the index. ({exc})") from exc
        if not (len(products) == vectors.ntotal == manifest.products):
            raise IndexCorruptError(f"{version} is inconsistent: {len(products)} products, {vectors.ntotal} "
                                    f"vectors, manifest says {manifest.products}. Rebuild the index.")
        index = cls(vectors, products, manifest, version)
        if encoder is not None:
            index.check_encoder(encoder)
        return index


def read_live_manifest(directory: str | Path) -> Manifest:
    """The manifest of the live version, without loading its vectors."""
    version, digest = _pointer(directory)
    return Manifest.read(version / "manifest.json", digest)


def live_version(directory: str | Path) -> Path:
    """The version directory CURRENT points to."""
    return _pointer(directory)[0]


def _pointer(directory: str | Path) -> tuple[Path, str]:
    """The live version's directory and its manifest's SHA-256, as CURRENT records them."""
    directory = Path(directory)
    pointer = directory / "CURRENT"
    if not pointer.is_file():
        raise IndexNotFoundError(f"No index at {directory}. Build one with `python -m index build --source SRC --out {directory}`.")
    try:
        fields = pointer.read_bytes().decode("ascii").split()
    except UnicodeDecodeError as exc:
        raise IndexCorruptError(f"{pointer} is damaged; rebuild the index.") from exc
    if len(fields) == 1 and fields[0].startswith("v-"):  # format 1 named the version alone
        raise IndexCorruptError(f"{directory} holds an index of an earlier format, without checksums; rebuild it "
                                f"with `python -m index build`.")
    if len(fields) != 2:
        raise IndexCorruptError(f"{pointer} is damaged; rebuild the index.")
    name, digest = fields
    version = directory / name
    if version.parent != directory or not name.startswith("v-") or not version.is_dir():
        raise IndexCorruptError(f"{pointer} names a missing version {name!r}; rebuild the index.")
    return version, digest


def _verify(version: Path, checksums: dict[str, str]) -> None:
    """Refuse a version whose files are not the ones its build wrote."""
    for name in ("vectors.faiss", "products.jsonl"):
        if name not in checksums:
            raise IndexCorruptError(f"{version / 'manifest.json'} has no checksum of {name}; rebuild the index.")
    for name, digest in checksums.items():
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise IndexCorruptError(f"{version / 'manifest.json'} names a file outside the version; rebuild the index.")
        path = version / name
        try:
            actual = _file_sha256(path)
        except OSError as exc:
            raise IndexCorruptError(f"{path} is missing or unreadable; rebuild the index.") from exc
        if actual != digest:
            raise IndexCorruptError(f"{path} is damaged: it is not the file its build wrote. Rebuild the index.")


class IndexWriter:
    """Writes a new version of the index directory; `commit(manifest)` makes it live, atomically.

    Use as a context manager: leaving the block without `commit()` removes the partial version.
    """

    def __init__(self, directory: str | Path, dim: int):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(self.directory)
        name = f"v-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S-%f')}-{uuid.uuid4().hex[:4]}"
        self.version = self.directory / f".building-{os.getpid()}-{name}"
        self.final = self.directory / name
        (self.version / "images").mkdir(parents=True)
        self.vectors = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.products: list[Product] = []

    def __enter__(self) -> "IndexWriter":
        return self

    def __exit__(self, *exc) -> None:
        if self.version.exists():
            shutil.rmtree(self.version, ignore_errors=True)

    def add(self, vectors: np.ndarray, products: Sequence[Product], thumbnails) -> None:
        """Append products with their (N, D) vectors and thumbnail PIL images."""
        first = len(self.products)
        ids = np.arange(first, first + len(products), dtype=np.int64)
        for row, product, thumb in zip(ids, products, thumbnails):
            image = f"images/{row}.jpg"
            thumb.save(self.version / image, quality=90)
            self.products.append(Product(**{**asdict(product), "row": int(row), "image": image}))
        self.vectors.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def commit(self, manifest: Manifest) -> Path:
        faiss.write_index(self.vectors, str(self.version / "vectors.faiss"))
        with (self.version / "products.jsonl").open("w", encoding="utf-8") as f:
            for product in self.products:
                f.write(json.dumps(asdict(product), ensure_ascii=False) + "\n")
        checksums = {path.relative_to(self.version).as_posix(): _file_sha256(path)
                     for path in sorted(self.version.rglob("*")) if path.is_file()}
        text = replace(manifest, products=len(self.products), checksums=checksums,
                       calibration=calibrate(self.vectors, [p.id for p in self.products])).to_json().encode("utf-8")
        (self.version / "manifest.json").write_bytes(text)
        _fsync_tree(self.version)
        try:
            previous = live_version(self.directory)
        except CatalogIndexError:
            previous = None
        os.replace(self.version, self.final)
        tmp = self.directory / f".CURRENT-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.write_text(f"{self.final.name}\n{sha256(text)}\n", encoding="ascii")
        _fsync_file(tmp)
        os.replace(tmp, self.directory / "CURRENT")
        # The version before stays, so that a running app's thumbnails stay valid until it reloads.
        for old in self.directory.glob("v-*"):
            if old.is_dir() and old not in (self.final, previous):
                shutil.rmtree(old, ignore_errors=True)
        return self.final


def _remove_leftovers(directory: Path) -> None:
    """Remove what killed builds left: partial versions and pointers whose process is gone."""
    for leftover in [*directory.glob(".building-*"), *directory.glob(".CURRENT-*")]:
        pid = leftover.name.split("-")[1]
        if _running(int(pid) if pid.isdigit() else 0) and time.time() - leftover.stat().st_mtime < STALE_AFTER_S:
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return True


def _file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _absolute_image(product: Product, version: Path) -> Product:
    return replace(product, image=str(version / product.image)) if product.image else product


def _fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            _fsync_file(path)
