"""An index's product table: one product per row (per catalog photo), with what narrows them.

Stored in a version as `products.parquet` (a column per product field and per text column of the
catalog; no pickle) and `kinds.json` (`index.store.kinds`); versions of format 4 and 5 hold `products.jsonl`
(JSON lines) instead. The table answers which rows a `core.types.Where` keeps, for the vector backend,
and holds the catalog's categories, prices and words (`index.store.text`) for the filters and text search.
Its products are made from the columns when asked for (`Products`), so that a million load in seconds.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.types import Product, Where
from index.catalog.fetch import is_url
from index.errors import IndexCorruptError

from .kinds import ProductKinds
from .text import TextIndex

FILES = ("products.parquet", "kinds.json")
EARLIER_FILES = ("products.jsonl", "kinds.json")  # index formats 4 and 5
COLUMNS = ("id", "name", "category", "price", "price_text", "link", "image", "popularity")
ATTRIBUTE = "attribute:"  # the column of a catalog text column (Product.attributes) is named so
CHUNK = 10_000  # products made at once when the table is iterated
MADE_KEPT = 8_192  # products kept once made
# Each row's photo's SHA-256 (index.catalog.image_reader.digest; zeros where it has none) and border colour, by which
# an update knows the photos it embedded before and works out the catalog's background as a build would.
# Written by builds since issue 27: an earlier index lacks it.
PHOTOS = "photos.npz"
DIGEST_BYTES = 32
MASKS_KEPT = 32  # the category and price filters last asked for, kept as row masks


class Products(Sequence[Product]):
    """A table's products by row, each made from the columns when asked for."""

    def __init__(self, columns: pa.Table, folder: str = ""):
        """`columns` as `of` makes them; thumbnail paths are joined to `folder` (a version's, with its separator)."""
        self.columns, self._folder = columns, folder
        self._fields = [(name, columns.column(name).combine_chunks()) for name in columns.column_names]
        # The products searches return most are made once: making one reads each of its columns (~40 us).
        self._made_at = lru_cache(maxsize=MADE_KEPT)(self._at)

    @classmethod
    def of(cls, products: Sequence[Product]) -> Products:
        """`products` (rows 0 to N - 1, in order) as columns."""
        if any(p.row != i for i, p in enumerate(products)):
            raise ValueError("a table's products must be its rows 0 to N - 1, in order")
        prices = [p.price for p in products]
        columns = {  # COLUMNS
            "id": pa.array([p.id for p in products], pa.string()),
            "name": pa.array([p.name for p in products], pa.string()),
            "category": pa.array([p.category for p in products], pa.string()),
            "price": pa.array([float(v) if isinstance(v, (int, float)) else None for v in prices], pa.float64()),
            "price_text": pa.array([v if isinstance(v, str) else None for v in prices], pa.string()),
            "link": pa.array([p.link for p in products], pa.string()),
            "image": pa.array([p.image for p in products], pa.string()),
            "popularity": pa.array([p.popularity for p in products], pa.float64()),
        }
        for key in dict.fromkeys(k for p in products for k in p.attributes):
            columns[ATTRIBUTE + key] = pa.array([p.attributes.get(key) for p in products], pa.string())
        return cls(pa.table(columns))

    def __len__(self) -> int:
        return self.columns.num_rows

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        row = operator.index(row)
        if not -len(self) <= row < len(self):
            raise IndexError(f"row {row} of a table of {len(self)}")
        return self._made_at(row % len(self))

    def _at(self, row: int) -> Product:
        return self._made(row, {name: column[row].as_py() for name, column in self._fields})

    def __iter__(self) -> Iterator[Product]:
        for start in range(0, len(self), CHUNK):
            part = self.columns.slice(start, CHUNK).to_pylist()
            yield from (self._made(start + i, values) for i, values in enumerate(part))

    def column(self, name: str) -> pa.Array:
        return self.columns.column(name).combine_chunks()

    def _made(self, row: int, values: dict) -> Product:
        image = values["image"]
        if image and self._folder and not is_url(image):
            image = self._folder + image
        price = values["price"] if values["price"] is not None else values["price_text"]
        attributes = {
            name[len(ATTRIBUTE) :]: value
            for name, value in values.items()
            if value is not None and name.startswith(ATTRIBUTE)
        }
        return Product(
            row=row,
            id=values["id"],
            name=values["name"],
            category=values["category"],
            price=price,
            link=values["link"],
            image=image,
            popularity=values["popularity"],
            attributes=attributes,
        )


class ProductTable:
    def __init__(self, products: Sequence[Product], kinds: ProductKinds):
        self.products = products if isinstance(products, Products) else Products.of(products)
        self.kinds = kinds
        self.text = TextIndex(self.products)
        categories = pc.dictionary_encode(self.products.column("category"))
        self._category = categories.indices.to_numpy(zero_copy_only=False)  # a code by row; NaN where none
        self._category_codes = {name: code for code, name in enumerate(categories.dictionary.to_pylist())}
        self.categories = sorted(name for name in self._category_codes if name)
        self._price = self.products.column("price").to_numpy(zero_copy_only=False)  # NaN where none
        self.popularity = self.products.column("popularity").to_numpy(zero_copy_only=False)  # NaN where none
        self.has_prices = bool(np.isfinite(self._price).any())
        self.ids = self.products.column("id").to_pylist()  # by row: what telling products apart reads
        distinct = len(set(self.ids))
        self.photos_per_product = len(self.products) / max(distinct, 1)
        self.distinct_products = distinct
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
        assert rows is not None  # a Where that keeps fewer than every row narrows by one of these (Where.__bool__)
        return rows.astype(np.int64, copy=False)

    def count(self, where: Where | None) -> int:
        """How many rows `where` keeps."""
        rows = self.rows_where(where)
        return len(self) if rows is None else len(rows)

    def price_range(self, categories: tuple[str, ...] = ()) -> tuple[float, float] | None:
        """The lowest and highest price of the products of `categories` (all: every product), None without prices."""
        prices = self._price[self._mask(categories, None, None)]
        prices = prices[np.isfinite(prices)]
        return (float(prices.min()), float(prices.max())) if prices.size else None

    def _mask(self, categories: tuple[str, ...], low: float | None, high: float | None) -> np.ndarray:
        key = (categories, low, high)
        if key not in self._masks:
            keep = np.ones(len(self), dtype=bool)
            if categories:
                keep &= np.isin(
                    self._category, [self._category_codes[c] for c in categories if c in self._category_codes]
                )
            if low is not None:
                keep &= self._price >= low  # a product without a price is out of every price range
            if high is not None:
                keep &= self._price <= high
            if len(self._masks) >= MASKS_KEPT:
                self._masks.clear()
            self._masks[key] = keep
        return self._masks[key]

    @classmethod
    def load(cls, folder: Path) -> ProductTable:
        """The table of the version `folder`; thumbnails as absolute paths. IndexCorruptError when it cannot be read."""
        earlier = not (folder / FILES[0]).exists() and (folder / EARLIER_FILES[0]).exists()
        try:
            if earlier:
                with (folder / EARLIER_FILES[0]).open(encoding="utf-8") as f:
                    columns = Products.of([Product(**json.loads(line)) for line in f]).columns
            else:
                columns = pq.read_table(folder / FILES[0])
            missing = set(COLUMNS) - set(columns.column_names)
            if missing:
                raise ValueError(f"it has no column {sorted(missing)[0]!r}")
            products = Products(columns, f"{folder}{os.sep}")
        except (OSError, ValueError, TypeError, KeyError, pa.ArrowException) as exc:
            raise IndexCorruptError(f"The product list of {folder} cannot be read; rebuild the index. ({exc})") from exc
        try:
            kinds = ProductKinds.from_json((folder / FILES[1]).read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(
                f"The product kinds of {folder} cannot be read; rebuild the index. ({exc})"
            ) from exc
        if len(kinds.of_row) != len(products):
            raise IndexCorruptError(
                f"{folder} is inconsistent: {len(products)} products, kinds of {len(kinds.of_row)}. Rebuild the index."
            )
        return cls(products, kinds)


def write_table(folder: Path, products: Sequence[Product] | Products, kinds: ProductKinds) -> None:
    """A table's files, into an index version being written: of `products`, or a loaded table's `Products`."""
    columns = products.columns if isinstance(products, Products) else Products.of(products).columns
    pq.write_table(columns, folder / FILES[0])
    (folder / FILES[1]).write_text(kinds.to_json(), encoding="utf-8")


def write_photos(folder: Path, digests: Sequence[bytes], borders: Sequence[np.ndarray]) -> None:
    """The rows' photos' digests and border colours, into an index version being written."""
    np.savez(
        folder / PHOTOS,
        sha256=np.frombuffer(b"".join(digests), np.uint8).reshape(-1, DIGEST_BYTES),
        border=np.asarray(borders, np.float32).reshape(-1, 3),
    )


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
        raise IndexCorruptError(
            f"{folder} is inconsistent: {rows} products, photo digests of shape {digests.shape}. Rebuild the index."
        )
    return digests, borders
