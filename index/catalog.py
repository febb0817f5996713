"""Reading a product catalog: a local CSV/JSONL manifest or product feed, a `datasets` folder, or a Hub dataset.

A product's image may be a file, an image column's value, a web link (fetched when the index is
built: `index.fetch`) or, for a Hub dataset, an image stored in another of its configurations,
named by id (`Reading.images`: `index.catalog_tables`).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import string
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import quote

from core.errors import LookalikeError

from .fetch import is_url
from .selection import spread, stable_key

# Tried in order, case-insensitively, when a column is not named explicitly.
# Product feeds' names are among them: Google Merchant Center (`image_link`, `additional_image_link`,
# `title`, `link`, `price` as "12.00 USD", `product_type`, `google_product_category`) and Shopify's
# export (`Handle`, `Title`, `Type`, `Variant Price`, `Image Src`).
COLUMN_CANDIDATES = {
    "image": ("image", "image_path", "image_link", "image_url", "image src", "file_name", "img", "path", "picture"),
    "id": ("product_id", "id", "sku", "article_number", "item_id", "handle"),
    "name": ("name", "title", "product_name", "product_title", "item_name", "item_name_en"),
    "category": ("category", "type", "product_type", "google_product_category", "class", "label"),
    "price": ("price", "price_usd", "price_eur", "price_gbp", "price_hkd", "sale_price", "variant price"),
    "link": ("url", "link", "product_url", "href"),
    "popularity": ("popularity", "rating", "average_rating", "avg_rating", "stars", "rating_count", "num_ratings"),
    "more_images": ("additional_image_link", "additional_image_links", "additional_images", "more_images"),
}
TEXT_SAMPLE = 200  # rows looked at to tell which other columns hold words
MAX_ATTRIBUTE_CHARS = 500  # per column and product: enough for a description, not a whole page
MANIFEST_NAMES = ("metadata.csv", "metadata.jsonl", "products.csv", "products.jsonl")
# A price with its currency, as feeds write it: "12.00 USD", "USD 12.00", "1,299 HKD".
MONEY = re.compile(r"(?:([A-Z]{3})\s*)?([-+]?\d[\d,]*(?:\.\d+)?)(?:\s*([A-Z]{3}))?")


log = logging.getLogger(__name__)


class CatalogError(LookalikeError):
    """The catalog source cannot be read or lacks what an index needs."""


@dataclass(frozen=True)
class CatalogSource:
    """Where a catalog was read from, as an index's manifest records it."""

    type: str  # "hub", "local" (a CSV/JSONL manifest), "disk" (a save_to_disk folder), "dataset" (in memory)
    id: str | None = None  # hub: the dataset id
    path: str | None = None  # local, disk: the absolute path
    split: str | None = None  # hub, disk
    revision: str | None = None  # hub: the commit indexed, where it could be resolved
    fingerprint: str | None = None  # dataset
    config: str | None = None  # hub: the dataset's configuration, when not its default
    kept: str | None = None  # the rows kept ("column=value,value"), when not all
    credit: str | None = None  # the catalog's attribution and license (Markdown), shown on the page
    limit: int | None = None  # the cap on the products taken, when there was one
    name: str | None = None  # the catalog's name for people, where one was given

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def is_named_by(self, catalog: str) -> bool:
        """Whether the catalog setting (Hub id, folder or manifest path) names this source."""
        if self.type == "hub":
            return catalog == self.id
        if self.type in ("local", "disk"):
            recorded = Path(self.path or "")
            given = Path(catalog).expanduser().resolve()
            # A folder holding products.csv (or another manifest) names the same catalog as the file.
            return given == recorded or (self.type == "local" and given == recorded.parent)
        return False

    @property
    def title(self) -> str:
        """A short name for people: the name given, else the Hub id, or the catalog's folder or file name."""
        if self.name:
            return self.name
        if self.type == "hub":
            return self.id or "the Hub"
        path = Path(self.path or "catalog")
        return path.parent.name if path.name in MANIFEST_NAMES else path.name

    def describe(self) -> str:
        return f"the Hub dataset {self.id}" if self.type == "hub" else str(self.path or self.type)


@dataclass(frozen=True)
class Reading:
    """How a catalog is read beyond which column is which."""

    split: str = "train"  # Hub datasets and datasets folders
    revision: str | None = None  # Hub datasets
    config: str | None = None  # Hub datasets: a configuration (subset) other than the default
    keep: tuple[str, tuple[str, ...]] | None = None  # (column, values): only rows with one of these values
    # A link where no column has one, made from the row's columns: (None, {"": template}) for every
    # row, or (column, {value: template}) by the row's value of that column (no template: no link).
    links: tuple[str | None, Mapping[str, str]] | None = None
    credit: str | None = None  # recorded in the index and shown on the page
    # Images stored elsewhere, by id: (configuration or dataset, the row's column, that table's column).
    images: tuple[str, str, str] | None = None
    prefer: tuple[str, tuple[str, ...]] | None = None  # (column, values): these rows first when the cap chooses
    limit: int = 0  # products taken, spread over the categories (index.selection); 0: all
    name: str | None = None  # the catalog's name for people, shown on the page

    @classmethod
    def from_settings(cls, settings, split: str = "train", revision: str | None = None) -> "Reading":
        """How `settings` (core.settings.CatalogSettings) say the catalog is read."""
        return cls(split, revision, settings.catalog_config or None, settings.keep_rows, settings.link_templates,
                   settings.catalog_credit or None, settings.image_reference, settings.preferred_rows,
                   settings.catalog_limit, settings.catalog_name or None)


@dataclass(frozen=True)
class ColumnMap:
    """Which catalog column holds each product field; None means work it out from the column names."""

    image: str | None = None
    id: str | None = None
    name: str | None = None
    category: str | None = None
    price: str | None = None
    link: str | None = None
    popularity: str | None = None
    more_images: str | None = None  # further photos of the product: a list, or links separated by commas
    # The other columns whose words text search reads (colour, material, description...); None: every
    # column that holds words rather than numbers, paths or links.
    text: tuple[str, ...] | None = None

    def resolve(self, columns: list[str]) -> dict[str, str | None]:
        by_lower = {c.lower(): c for c in columns}
        resolved = {}
        for f in fields(self):
            if f.name == "text":
                continue
            given = getattr(self, f.name)
            if given is not None and given not in columns:
                raise CatalogError(f"The catalog has no column {given!r} (for {f.name}); it has {columns}.")
            resolved[f.name] = given or next(
                (by_lower[c] for c in COLUMN_CANDIDATES[f.name] if c in by_lower), None
            )
        if resolved["image"] is None:
            raise CatalogError(f"No image column found among {columns}; name it with --image-column "
                               f"(or, for images stored by id elsewhere, LOOKALIKE_CATALOG_IMAGES).")
        for column in self.text or ():
            if column not in columns:
                raise CatalogError(f"The catalog has no column {column!r} (for text); it has {columns}.")
        return resolved


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

    def __init__(self, rows, columns: dict[str, str | None], source: CatalogSource, base_dir: Path | None = None,
                 label_names: dict | None = None, text_columns: tuple[str, ...] | None = None,
                 links: tuple[str | None, Mapping[str, str]] | None = None, limit: int = 0,
                 prefer: tuple[str, tuple[str, ...]] | None = None, keys: Sequence | None = None,
                 schema: dict[str, str] | None = None, every_category: Sequence | None = None,
                 notes: Sequence[str] = ()):
        """`limit` rows are kept (0: all), `prefer`red ones first, in the order of `keys` (default: a
        hash of each row's id) within each category: `index.selection.spread`. What `index inspect`
        shows: `schema` (each column's type; default: judged from the rows), `every_category` (the
        category of every row read, before any was left out), `notes` on how the rows were read."""
        self.columns, self.source, self._base_dir = columns, source, base_dir
        self._label_names = label_names or {}  # column -> int2str of a datasets ClassLabel
        names = _column_names(rows)
        self.schema = schema or {name: _kind_of(_sample(rows, name)) for name in names}
        self.notes = list(notes)
        self.kept_categories = self._categories(rows)  # rows kept by the filters, before the cap
        self.every_category = self.kept_categories if every_category is None else Counter(
            self._text_of(v, columns["category"]) for v in every_category)
        if prefer and prefer[0] not in names:
            raise CatalogError(f"The catalog has no column {prefer[0]!r} to prefer rows by; it has {names}.")
        self._rows = self._capped(rows, limit, prefer, keys)
        self._links = links if not columns.get("link") else None  # a link column wins
        self._link_fields = sorted(template_fields(self._links))
        missing = [f for f in sorted(link_columns(self._links)) if f not in names]
        if missing:
            raise CatalogError(f"The link template names {missing[0]!r}, which is not a column "
                               f"of the catalog; it has {names}.")
        if text_columns is None:
            used = {c for c in columns.values() if c}
            text_columns = tuple(c for c in names if c not in used and _holds_words(rows, c))
        self.text_columns = text_columns
        self.currency = self._currency()

    def __len__(self) -> int:
        return len(self._rows)

    def categories(self) -> Counter:
        """How many of the rows taken are of each category."""
        return self._categories(self._rows)

    def _categories(self, rows) -> Counter:
        return Counter(self._text_of(v, self.columns["category"]) for v in _whole(rows, self.columns["category"]))

    def _capped(self, rows, limit: int, prefer, keys):
        if not limit or limit >= len(rows):
            return rows
        categories = [self._text_of(v, self.columns["category"]) for v in _whole(rows, self.columns["category"])]
        if keys is None:
            ids = _whole(rows, self.columns["id"])
            keys = [stable_key(self._text_of(v, self.columns["id"]) or str(i)) for i, v in enumerate(ids)]
        preferred = [self._text_of(v, prefer[0]) in prefer[1] for v in _whole(rows, prefer[0])] if prefer else None
        chosen = spread(categories, keys, limit, preferred)
        first = f", {prefer[0]} in {', '.join(prefer[1])} first" if prefer else ""
        self.notes.append(f"Took {len(chosen):,} of {len(rows):,} rows, spread over {len(set(categories))} "
                          f"categories (the cap){first}.")
        log.info("%s", self.notes[-1])
        return rows.select(chosen) if hasattr(rows, "select") else [rows[i] for i in chosen]

    def __iter__(self) -> Iterator[CatalogItem]:
        c = self.columns
        for i, row in enumerate(self._rows):
            category = self._value(row, c["category"])
            attributes = {column: text[:MAX_ATTRIBUTE_CHARS] for column in self.text_columns
                          if (text := self._value(row, column))}
            for image in self._images(row):
                if self._base_dir is not None and isinstance(image, str) and not is_url(image):
                    image = self._base_dir / image
                yield CatalogItem(
                    row=i,
                    id=self._value(row, c["id"]) or str(i),
                    # A labelled image folder has no names: its class label is the best caption there is.
                    name=self._value(row, c["name"]) if c["name"] else category,
                    category=category,
                    price=_price(row.get(c["price"]), self.currency) if c["price"] else None,
                    link=_link(row.get(c["link"])) if c["link"] else self._templated_link(row),
                    image=image,
                    popularity=_number(row.get(c["popularity"])) if c["popularity"] else None,
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
        fields = {f: self._value(row, f) for f in self._link_fields}
        if template is None or not all(fields.values()):
            return None  # a row without the value has no link, rather than a broken one
        return _link(template.format_map({f: quote(v, safe="") for f, v in fields.items()}))

    def _value(self, row, column: str | None) -> str | None:
        return None if column is None else self._text_of(row.get(column), column)

    def _text_of(self, value, column: str | None) -> str | None:
        if column in self._label_names and isinstance(value, int):
            value = self._label_names[column](value)
        return _text(value)

    def _currency(self) -> str | None:
        """'HKD' for a column named price_hkd; else the currency most prices name ("12.00 USD")."""
        price = self.columns.get("price") or ""
        if "_" in price:
            return price.rsplit("_", 1)[1].upper()
        if not price:
            return None
        named = Counter(money[1] for value in _sample(self._rows, price)
                        if (money := _money(_text(value))) and money[1])
        return named.most_common(1)[0][0] if named else None


def open_catalog(source, columns: ColumnMap = ColumnMap(), reading: Reading = Reading()) -> Catalog:
    """`source`: a CSV/JSONL manifest or feed, a folder holding one, a `save_to_disk` folder, a
    `datasets.Dataset`, a Hugging Face Hub dataset id, or a folder laid out as one (parquet files)."""
    import datasets

    if isinstance(source, datasets.Dataset):
        return _from_dataset(source, columns, reading, CatalogSource("dataset", fingerprint=source._fingerprint))
    path = Path(source)
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
        loaded = datasets.load_from_disk(str(path))
        dataset = loaded[reading.split] if isinstance(loaded, datasets.DatasetDict) else loaded
        return _from_dataset(dataset, columns, reading,
                             CatalogSource("disk", path=str(path.resolve()), split=reading.split))
    if path.is_dir():
        found = [path / n for n in MANIFEST_NAMES if (path / n).exists()]
        if not found and not any(path.glob("**/*.parquet")):
            raise CatalogError(f"{path} holds none of {', '.join(MANIFEST_NAMES)}, and no parquet files.")
        if not found:
            return _from_files(str(path.resolve()), columns, reading)
        path = found[0]
    if path.is_file():
        return _from_manifest(path, columns, reading)
    if path.suffix.lower() in (".csv", ".jsonl", ".json") or str(source).startswith((".", "/")):
        raise CatalogError(f"No catalog file at {path}.")
    return _from_files(str(source), columns, reading)


def _from_manifest(path: Path, columns: ColumnMap, reading: Reading) -> Catalog:
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets' exports start with a BOM
            if path.suffix.lower() == ".csv":
                rows = list(csv.DictReader(f))
            else:
                rows = [json.loads(line) for line in f if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise CatalogError(f"Cannot parse {path}: {exc}") from exc
    if not rows:
        raise CatalogError(f"The catalog {path} has no rows.")
    names = list(rows[0].keys())
    resolved = columns.resolve(names)
    rows = _filled_in(rows, resolved["id"])
    every_category, notes = _whole(rows, resolved["category"]), [f"Read {len(rows):,} rows of {path}."]
    if reading.keep:
        column, values = _kept_column(reading.keep, names)
        total, rows = len(rows), [row for row in rows if _text(row.get(column)) in values]
        notes.append(_check_kept(rows, reading.keep, total))
    source = CatalogSource("local", path=str(path.resolve()), **_reading_fields(reading))
    return Catalog(rows, resolved, source, base_dir=path.parent.resolve(), text_columns=columns.text,
                   every_category=every_category, notes=notes, **_choosing(reading))


def _from_files(source: str, columns: ColumnMap, reading: Reading) -> Catalog:
    from .catalog_tables import read_tables  # it builds on this module

    return read_tables(source, columns, reading)


def _from_dataset(dataset, columns: ColumnMap, reading: Reading, source: CatalogSource) -> Catalog:
    import datasets

    if len(dataset) == 0:
        raise CatalogError("The dataset has no rows.")
    names = list(dataset.column_names)
    labels = {n: f.int2str for n, f in dataset.features.items() if isinstance(f, datasets.ClassLabel)}
    if columns.image is None:
        image_columns = [n for n, f in dataset.features.items() if isinstance(f, datasets.Image)]
        if image_columns:
            columns = replace(columns, image=image_columns[0])
    resolved = columns.resolve(names)
    every_category, notes = _whole(dataset, resolved["category"]), []
    if reading.keep:
        column, values = _kept_column(reading.keep, names)
        name_of = labels.get(column)
        total = len(dataset)
        dataset = dataset.filter(  # one column read, no image decoded
            lambda v: _text(name_of(v) if name_of and isinstance(v, int) else v) in values,
            input_columns=column, desc="Keeping the catalog's rows")
        notes.append(_check_kept(dataset, reading.keep, total))
    source = replace(source, **_reading_fields(reading))
    return Catalog(dataset, resolved, source, label_names=labels, text_columns=columns.text,
                   schema={n: str(f) for n, f in dataset.features.items()}, every_category=every_category,
                   notes=notes, **_choosing(reading))


def _choosing(reading: Reading) -> dict:
    """What a `Catalog` is told of the rows to take and the links to make."""
    return {"links": reading.links, "limit": reading.limit, "prefer": reading.prefer}


def _filled_in(rows: list[dict], id_column: str | None) -> list[dict]:
    """A feed's rows that continue a product (Shopify's: its id and one more image, the rest empty)
    take the product's values from its first row."""
    if id_column is None:
        return rows
    first: dict[str, dict] = {}
    filled = []
    for row in rows:
        product = first.setdefault(row[id_column], row) if row.get(id_column) else row
        filled.append(row if product is row else {k: v if v not in (None, "") else product.get(k)
                                                   for k, v in row.items()})
    return filled


def template_fields(links: tuple[str | None, Mapping[str, str]] | None) -> set[str]:
    """The columns the link templates fill in ({item_id})."""
    return {f for template in (links[1].values() if links else ()) for _, f, _, _ in string.Formatter().parse(template)
            if f}


def link_columns(links: tuple[str | None, Mapping[str, str]] | None) -> set[str]:
    """Every column a link reading needs: the templates' fields, and the column choosing the template."""
    return template_fields(links) | ({links[0]} if links and links[0] else set())


def _reading_fields(reading: Reading) -> dict:
    """What the manifest records of how the catalog was read."""
    kept = f"{reading.keep[0]}={','.join(reading.keep[1])}" if reading.keep else None
    return {"config": reading.config, "kept": kept, "credit": reading.credit, "limit": reading.limit or None,
            "name": reading.name}


def _kept_column(keep: tuple[str, tuple[str, ...]], names: list[str]) -> tuple[str, frozenset[str]]:
    column, values = keep
    if column not in names:
        raise CatalogError(f"The catalog has no column {column!r} to keep rows by; it has {names}.")
    return column, frozenset(values)


def _check_kept(rows, keep: tuple[str, tuple[str, ...]], total: int) -> str:
    """What the filter kept, as a note; refused when it kept nothing."""
    if len(rows) == 0:
        raise CatalogError(f"No row of the catalog has {keep[0]} in {', '.join(keep[1])}; nothing to index.")
    note = f"Kept {len(rows):,} of {total:,} rows ({keep[0]} in {', '.join(keep[1])})."
    log.info("%s", note)
    return note


def _kind_of(values: list) -> str:
    """A column's type as its values show it: text, number, list, record, image..."""
    value = next((v for v in values if v not in (None, "")), None)
    if value is None:
        return "empty"
    if _is_multilingual(value):
        return "text by language"
    return {str: "text", int: "number", float: "number", bool: "yes/no", list: "list", dict: "record",
            bytes: "bytes"}.get(type(value), type(value).__name__)


def _resolved_revision(dataset_id: str, revision: str | None) -> str | None:
    """The commit the Hub serves for `revision`, so the manifest pins exactly what was indexed."""
    from huggingface_hub import HfApi

    try:
        return HfApi().dataset_info(dataset_id, revision=revision).sha
    except Exception:  # offline, or a local datasets script: the manifest then records what was asked
        return revision


def _text(value) -> str | None:
    if _is_multilingual(value):
        value = _in_english(value)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _is_multilingual(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "value" in v for v in value)


def _in_english(values: list[dict]):
    """ABO's multilingual fields are lists of {"language_tag", "value"}: the English value, else the first."""
    english = [v["value"] for v in values if str(v.get("language_tag", "")).lower().startswith("en")]
    return english[0] if english else values[0]["value"]


def _price(value, currency: str | None = None) -> float | str | None:
    """A number, where the value is an amount in the catalog's currency; else the text as it is
    (shown, but outside every price range)."""
    text = _text(value)
    money = _money(text)
    if money is None or (money[1] and money[1] != currency):
        return text
    return money[0]


def _money(text: str | None) -> tuple[float, str | None] | None:
    """(amount, currency code or None) of "12.00 USD", "USD 12.00", "1,299" or 12.5; None for other text."""
    found = MONEY.fullmatch(text.strip()) if text else None
    if not found or (found[1] and found[3]):
        return None
    return float(found[2].replace(",", "")), found[1] or found[3]


def _number(value) -> float | None:
    price = _price(value)
    return price if isinstance(price, float) and math.isfinite(price) else None


def _column_names(rows) -> list[str]:
    return list(rows.column_names) if hasattr(rows, "column_names") else list(rows[0].keys())


def _whole(rows, column: str | None) -> list:
    """Every row's value of `column` (None for every row when there is no such column)."""
    if column is None:
        return [None] * len(rows)
    if hasattr(rows, "select_columns"):  # a datasets.Dataset: read this column alone, decoding no image
        return rows.select_columns([column])[column]
    return [row.get(column) for row in rows]


def _sample(rows, column: str) -> list:
    """The first rows' values of `column`."""
    if hasattr(rows, "select_columns"):  # a datasets.Dataset: read this column alone, decoding no image
        return rows.select_columns([column])[:TEXT_SAMPLE][column]
    return [row.get(column) for row in rows[:TEXT_SAMPLE]]


def _holds_words(rows, column: str) -> bool:
    """Whether `column` holds words: text with letters, not numbers, paths, links or file names."""
    sample = [_in_english(v) if _is_multilingual(v) else v for v in _sample(rows, column)]
    texts = [v.strip() for v in sample if isinstance(v, str) and v.strip()]
    if not texts or len(texts) < len([v for v in sample if v not in (None, "")]):  # not every value is text
        return False
    words = [t for t in texts if re.search(r"[^\W\d_]", t) and not _looks_like_a_path(t) and _number(t) is None
             and not _looks_like_a_code(t)]
    return len(words) >= 0.9 * len(texts)


def _looks_like_a_code(text: str) -> bool:
    """An identifier such as an image id ("81iZlv3bjpL"): one token of letters and digits; or data
    such as JSON."""
    return bool(re.fullmatch(r"[\w-]+", text) and re.search(r"\d", text)) or text.startswith(("{", "["))


def _looks_like_a_path(text: str) -> bool:
    return "://" in text or "/" in text or "\\" in text or bool(re.fullmatch(r"\S+\.[A-Za-z0-9]{2,5}", text))


def _link(value) -> str | None:
    # Only web links: a catalog must not be able to put javascript: or file: links on the page.
    text = _text(value)
    return text if text and text.lower().startswith(("https://", "http://")) else None
