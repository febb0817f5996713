"""An index's product table: one product per row (per catalog photo), with what narrows them.

Stored in a version as `products.jsonl` (JSON lines, no pickle) and `kinds.json` (`index.kinds`).
The table answers which rows a `core.types.Where` keeps, for the vector backend, and holds the
catalog's categories, prices and words (`index.text`) for the filters and text search.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from core.types import Product, Where

from .errors import IndexCorruptError
from .fetch import is_url
from .kinds import ProductKinds
from .text import TextIndex

FILES = ("products.jsonl", "kinds.json")
# Each row's photo's SHA-256 (index.image_reader.digest; zeros where it has none) and border colour, by which
# an update knows the photos it embedded before and works out the catalog's background as a build would.
# Written by builds since issue 27: an earlier index lacks it.
PHOTOS = "photos.npz"
DIGEST_BYTES = 32
MASKS_KEPT = 32  # the category and price filters last asked for, kept as row masks


class ProductTable:
    def __init__(self, products: Sequence[Product], kinds: ProductKinds):
        self.products, self.kinds = list(products), kinds
        self.text = TextIndex(self.products)
        self.categories = sorted({p.category for p in self.products if p.category})
        self._category = np.array([p.category or "" for p in self.products], dtype=object)
        self._price = np.array([p.price if isinstance(p.price, (int, float)) else np.nan for p in self.products],
                               dtype=np.float64)
        self.has_prices = bool(np.isfinite(self._price).any())
        self.photos_per_product = len(self.products) / max(len({p.id for p in self.products}), 1)
        self._masks: dict[tuple, np.ndarray] = {}
        self._last: tuple[Where, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.products)

    def rows_where(self, where: Where | None) -> np.ndarray | None:
        """The rows `where` keeps (int64, ascending); None when it keeps every row."""
        if not where:
            return None
        # A search asks twice of one Where (how many rows, then which): the last answer is kept, by identity.
        last = self._last
        if last is not None and last[0] is where:
            return last[1]
        rows = self._rows_where(where)
        self._last = (where, rows)
        return rows

    def _rows_where(self, where: Where) -> np.ndarray:
        rows = None
        if where.kinds:
            found = [self.kinds.rows_of(kind) for kind in where.kinds]
            rows = found[0] if len(found) == 1 else np.unique(np.concatenate(found))
        if where.categories or where.min_price is not None or where.max_price is not None:
            keep = self._mask(where.categories, where.min_price, where.max_price)
            rows = np.flatnonzero(keep) if rows is None else rows[keep[rows]]
        if where.rows is not None:
            rows = np.unique(where.rows) if rows is None else np.intersect1d(rows, where.rows)
        return rows.astype(np.int64, copy=False)

    def count(self, where: Where | None) -> int:
        """How many rows `where` keeps."""
        rows = self.rows_where(where)
        return len(self) if rows is None else len(rows)

    def _mask(self, categories: tuple[str, ...], low: float | None, high: float | None) -> np.ndarray:
        key = (categories, low, high)
        if key not in self._masks:
            keep = np.ones(len(self), dtype=bool)
            if categories:
                keep &= np.isin(self._category, list(categories))
            if low is not None:
                keep &= self._price >= low  # a product without a price is out of every price range
            if high is not None:
                keep &= self._price <= high
            if len(self._masks) >= MASKS_KEPT:
                self._masks.clear()
            self._masks[key] = keep
        return self._masks[key]

    @classmethod
    def load(cls, folder: Path) -> "ProductTable":
        """The table of the version `folder`; thumbnails as absolute paths. IndexCorruptError when it cannot be read."""
        try:
            with (folder / FILES[0]).open(encoding="utf-8") as f:
                products = [_with_image(json.loads(line), f"{folder}{os.sep}") for line in f]
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorruptError(f"The product list of {folder} cannot be read; rebuild the index. ({exc})") from exc
        try:
            kinds = ProductKinds.from_json((folder / FILES[1]).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(f"The product kinds of {folder} cannot be read; rebuild the index. "
                                    f"({exc})") from exc
        if len(kinds.of_row) != len(products):
            raise IndexCorruptError(f"{folder} is inconsistent: {len(products)} products, kinds of "
                                    f"{len(kinds.of_row)}. Rebuild the index.")
        return cls(products, kinds)


def write_table(folder: Path, products: Sequence[Product], kinds: ProductKinds) -> None:
    """A table's files, into an index version being written."""
    with (folder / FILES[0]).open("w", encoding="utf-8") as f:
        for product in products:
            f.write(json.dumps(asdict(product), ensure_ascii=False) + "\n")
    (folder / FILES[1]).write_text(kinds.to_json(), encoding="utf-8")


def write_photos(folder: Path, digests: Sequence[bytes], borders: Sequence[np.ndarray]) -> None:
    """The rows' photos' digests and border colours, into an index version being written."""
    np.savez(folder / PHOTOS, sha256=np.frombuffer(b"".join(digests), np.uint8).reshape(-1, DIGEST_BYTES),
             border=np.asarray(borders, np.float32).reshape(-1, 3))


def read_photos(folder: Path, rows: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The (rows, 32) digests and (rows, 3) border colours of the version `folder`'s photos; None where
    it has none. IndexCorruptError when they cannot be read."""
    path = folder / PHOTOS
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as held:
            digests, borders = held["sha256"], held["border"]
    except (OSError, ValueError, KeyError) as exc:
        raise IndexCorruptError(f"The photos' digests of {folder} cannot be read ({exc}); rebuild the index.") from exc
    if digests.shape != (rows, DIGEST_BYTES) or digests.dtype != np.uint8 or borders.shape != (rows, 3):
        raise IndexCorruptError(f"{folder} is inconsistent: {rows} products, photo digests of shape {digests.shape}. "
                                f"Rebuild the index.")
    return digests, borders


def _with_image(fields: dict, version: str) -> Product:
    """The product `fields` describe, its thumbnail's path absolute (joined as text: a million rows load in
    seconds), or the link it is where the catalog's images are links."""
    image = fields.get("image")
    if image and not is_url(image):
        fields["image"] = version + image
    return Product(**fields)
