"""A catalog: its rows as `CatalogItem`s, one per product photo, the cap applied (`index.catalog.selection`)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .fetch import is_url
from .selection import ranking, stable_key
from .source import CatalogError, CatalogSource, link_columns, template_fields
from .values import (
    as_number,
    as_text,
    column_names,
    column_sample,
    holds_words,
    kind_of_values,
    parse_money,
    parse_price,
    web_link,
    whole_column,
)

MAX_ATTRIBUTE_CHARS = 500  # per column and product: enough for a description, not a whole page

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogItem:
    """One catalog row: its product fields and its image (a path or a decoded PIL image)."""

    row: int
    id: str
    name: str | None
    category: str | None
    price: float | str | None
    link: str | None
    image: Any
    popularity: float | None = None
    attributes: dict[str, str] = field(default_factory=dict)


class Catalog:
    """A sized, re-iterable sequence of `CatalogItem`s plus where it came from.

    A row whose image column holds a list of photos, or that names more photos (`more_images`),
    gives one item per photo, all with the row's id: a product with several photos is indexed by
    each of them and shown once.
    """

    def __init__(
        self,
        rows,
        columns: dict[str, str | None],
        source: CatalogSource,
        base_dir: Path | None = None,
        label_names: dict | None = None,
        text_columns: tuple[str, ...] | None = None,
        links: tuple[str | None, Mapping[str, str]] | None = None,
        limit: int = 0,
        prefer: tuple[str, tuple[str, ...]] | None = None,
        keys: Sequence | None = None,
        schema: dict[str, str] | None = None,
        every_category: Sequence | None = None,
        notes: Sequence[str] = (),
    ):
        """`limit` rows are kept (0: all), `prefer`red ones first, in the order of `keys` (default: a
        hash of each row's id) within each category: `index.catalog.selection.spread`. What `index inspect`
        shows: `schema` (each column's type; default: judged from the rows), `every_category` (the
        category of every row read, before any was left out), `notes` on how the rows were read."""
        self.columns, self.source, self._base_dir = columns, source, base_dir
        self._label_names = label_names or {}  # column -> int2str of a datasets ClassLabel
        names = column_names(rows)
        self.schema = schema or {name: kind_of_values(column_sample(rows, name)) for name in names}
        self.notes = list(notes)
        self.kept_categories = self._categories(rows)  # rows kept by the filters, before the cap
        self.every_category = (
            self.kept_categories
            if every_category is None
            else Counter(self._text_of(v, columns["category"]) for v in every_category)
        )
        if prefer and prefer[0] not in names:
            raise CatalogError(f"The catalog has no column {prefer[0]!r} to prefer rows by; it has {names}.")
        self._spare: Sequence = []  # rows the cap left, in the order it would take them next
        self._rows = self._capped(rows, limit, prefer, keys)
        self._links = links if not columns.get("link") else None  # a link column wins
        self._link_fields = sorted(template_fields(self._links))
        missing = [f for f in sorted(link_columns(self._links)) if f not in names]
        if missing:
            raise CatalogError(
                f"The link template names {missing[0]!r}, which is not a column of the catalog; it has {names}."
            )
        if text_columns is None:
            used = {c for c in columns.values() if c}
            text_columns = tuple(c for c in names if c not in used and holds_words(rows, c))
        self.text_columns = text_columns
        self.currency = self._currency()

    def __len__(self) -> int:
        return len(self._rows)

    def categories(self) -> Counter:
        """How many of the rows taken are of each category."""
        return self._categories(self._rows)

    def _categories(self, rows) -> Counter:
        return Counter(self._text_of(v, self.columns["category"]) for v in whole_column(rows, self.columns["category"]))

    def _capped(self, rows, limit: int, prefer, keys):
        if not limit or limit >= len(rows):
            return rows
        categories = [self._text_of(v, self.columns["category"]) for v in whole_column(rows, self.columns["category"])]
        if keys is None:
            ids = whole_column(rows, self.columns["id"])
            keys = [stable_key(self._text_of(v, self.columns["id"]) or str(i)) for i, v in enumerate(ids)]
        preferred = (
            [self._text_of(v, prefer[0]) in prefer[1] for v in whole_column(rows, prefer[0])] if prefer else None
        )
        order = ranking(categories, keys, preferred)
        chosen = sorted(order[:limit])
        self._spare = rows.select(order[limit:]) if hasattr(rows, "select") else [rows[i] for i in order[limit:]]
        first = f", {prefer[0]} in {', '.join(prefer[1])} first" if prefer else ""
        self.notes.append(
            f"Took {len(chosen):,} of {len(rows):,} rows, spread over {len(set(categories))} "
            f"categories (the cap){first}."
        )
        log.info("%s", self.notes[-1])
        return rows.select(chosen) if hasattr(rows, "select") else [rows[i] for i in chosen]

    def __iter__(self) -> Iterator[CatalogItem]:
        for i, row in enumerate(self._rows):
            yield from self._items(i, row)

    def spares(self) -> Iterator[list[CatalogItem]]:
        """The rows the cap left, each as its items, in the order the cap would take them next: a build takes
        as many as rows it could not read. Numbered after the rows taken."""
        for j, row in enumerate(self._spare):
            yield list(self._items(len(self._rows) + j, row))

    def _items(self, i: int, row) -> Iterator[CatalogItem]:
        c = self.columns
        category = self._value(row, c["category"])
        attributes = {
            column: text[:MAX_ATTRIBUTE_CHARS] for column in self.text_columns if (text := self._value(row, column))
        }
        for image in self._images(row):
            if self._base_dir is not None and isinstance(image, str) and not is_url(image):
                image = self._base_dir / image
            yield CatalogItem(
                row=i,
                id=self._value(row, c["id"]) or str(i),
                # A labelled image folder has no names: its class label is the best caption there is.
                name=self._value(row, c["name"]) if c["name"] else category,
                category=category,
                price=parse_price(row.get(c["price"]), self.currency) if c["price"] else None,
                link=web_link(row.get(c["link"])) if c["link"] else self._templated_link(row),
                image=image,
                popularity=as_number(row.get(c["popularity"])) if c["popularity"] else None,
                attributes=attributes,
            )

    def _images(self, row) -> list:
        images = row[self.columns["image"]]
        images = list(images) if isinstance(images, list) else [images]
        more = row.get(self.columns["more_images"]) if self.columns.get("more_images") else None
        if isinstance(more, str):  # a feed's CSV holds several links in one cell
            more = [m.strip() for m in more.split(",")]
        return [image for image in images + list(more or []) if image not in (None, "")]

    def _templated_link(self, row) -> str | None:
        if not self._links:
            return None
        column, templates = self._links
        template = templates.get(self._value(row, column) or "") if column else templates.get("")
        values = {f: self._value(row, f) for f in self._link_fields}
        fields = {f: v for f, v in values.items() if v}
        if template is None or len(fields) < len(values):
            return None  # a row without the value has no link, rather than a broken one
        return web_link(template.format_map({f: quote(v, safe="") for f, v in fields.items()}))

    def _value(self, row, column: str | None) -> str | None:
        return None if column is None else self._text_of(row.get(column), column)

    def _text_of(self, value, column: str | None) -> str | None:
        if column in self._label_names and isinstance(value, int):
            value = self._label_names[column](value)
        return as_text(value)

    def _currency(self) -> str | None:
        """'HKD' for a column named price_hkd; else the currency most prices name ("12.00 USD")."""
        price = self.columns.get("price") or ""
        if "_" in price:
            return price.rsplit("_", 1)[1].upper()
        if not price:
            return None
        named = Counter(
            money[1]
            for value in column_sample(self._rows, price)
            if (money := parse_money(as_text(value))) and money[1]
        )
        return named.most_common(1)[0][0] if named else None


def kept_column(keep: tuple[str, tuple[str, ...]], names: list[str]) -> tuple[str, frozenset[str]]:
    column, values = keep
    if column not in names:
        raise CatalogError(f"The catalog has no column {column!r} to keep rows by; it has {names}.")
    return column, frozenset(values)


def check_kept(rows, keep: tuple[str, tuple[str, ...]], total: int) -> str:
    """What the filter kept, as a note; refused when it kept nothing."""
    if len(rows) == 0:
        raise CatalogError(f"No row of the catalog has {keep[0]} in {', '.join(keep[1])}; nothing to index.")
    note = f"Kept {len(rows):,} of {total:,} rows ({keep[0]} in {', '.join(keep[1])})."
    log.info("%s", note)
    return note
