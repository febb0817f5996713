"""Reading a product catalog: a local CSV/JSONL manifest, a `datasets` folder, or a Hub dataset."""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import string
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from core.errors import LookalikeError

# Tried in order, case-insensitively, when a column is not named explicitly.
COLUMN_CANDIDATES = {
    "image": ("image", "image_path", "file_name", "img", "path", "picture"),
    "id": ("product_id", "id", "sku", "article_number", "item_id"),
    "name": ("name", "title", "product_name", "product_title", "item_name", "item_name_en"),
    "category": ("category", "type", "product_type", "class", "label"),
    "price": ("price", "price_usd", "price_eur", "price_gbp", "price_hkd", "sale_price"),
    "link": ("url", "link", "product_url", "href"),
    "popularity": ("popularity", "rating", "average_rating", "avg_rating", "stars", "rating_count", "num_ratings"),
}
TEXT_SAMPLE = 200  # rows looked at to tell which other columns hold words
MAX_ATTRIBUTE_CHARS = 500  # per column and product: enough for a description, not a whole page
MANIFEST_NAMES = ("metadata.csv", "metadata.jsonl", "products.csv", "products.jsonl")


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
        """A short name for people: the Hub id, or the catalog's folder or file name."""
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
    link_template: str | None = None  # e.g. "https://www.amazon.com/dp/{item_id}": a link where no column has one
    credit: str | None = None  # recorded in the index and shown on the page

    @classmethod
    def from_settings(cls, settings, split: str = "train", revision: str | None = None) -> "Reading":
        """How `settings` (core.settings.CatalogSettings) say the catalog is read."""
        return cls(split, revision, settings.catalog_config or None, settings.keep_rows,
                   settings.link_template or None, settings.catalog_credit or None)


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
            raise CatalogError(f"No image column found among {columns}; name it with --image-column.")
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

    A row whose image column holds a list of photos gives one item per photo, all with the row's id:
    a product with several photos is indexed by each of them and shown once.
    """

    def __init__(self, rows, columns: dict[str, str | None], source: CatalogSource, base_dir: Path | None = None,
                 label_names: dict | None = None, text_columns: tuple[str, ...] | None = None,
                 link_template: str | None = None):
        self._rows, self.columns, self.source, self._base_dir = rows, columns, source, base_dir
        names = _column_names(rows)
        self._link_template = link_template if not columns.get("link") else None  # a link column wins
        self._link_fields = [f for _, f, _, _ in string.Formatter().parse(self._link_template or "") if f]
        missing = [f for f in self._link_fields if f not in names]
        if missing:
            raise CatalogError(f"The link template {link_template!r} names {missing[0]!r}, which is not a column "
                               f"of the catalog; it has {names}.")
        self._label_names = label_names or {}  # column -> int2str of a datasets ClassLabel
        if text_columns is None:
            used = {c for c in columns.values() if c}
            text_columns = tuple(c for c in names if c not in used and _holds_words(rows, c))
        self.text_columns = text_columns

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[CatalogItem]:
        c = self.columns
        for i, row in enumerate(self._rows):
            category = self._value(row, c["category"])
            attributes = {column: text[:MAX_ATTRIBUTE_CHARS] for column in self.text_columns
                          if (text := self._value(row, column))}
            images = row[c["image"]]
            for image in images if isinstance(images, list) else [images]:
                if self._base_dir is not None and isinstance(image, str):
                    image = self._base_dir / image
                yield CatalogItem(
                    row=i,
                    id=self._value(row, c["id"]) or str(i),
                    # A labelled image folder has no names: its class label is the best caption there is.
                    name=self._value(row, c["name"]) if c["name"] else category,
                    category=category,
                    price=_price(row.get(c["price"])) if c["price"] else None,
                    link=_link(row.get(c["link"])) if c["link"] else self._templated_link(row),
                    image=image,
                    popularity=_number(row.get(c["popularity"])) if c["popularity"] else None,
                    attributes=attributes,
                )

    def _templated_link(self, row) -> str | None:
        if not self._link_template:
            return None
        fields = {f: self._value(row, f) for f in self._link_fields}
        if not all(fields.values()):
            return None  # a row without the value has no link, rather than a broken one
        return _link(self._link_template.format_map({f: quote(v, safe="") for f, v in fields.items()}))

    def _value(self, row, column: str | None) -> str | None:
        if column is None:
            return None
        value = row.get(column)
        if column in self._label_names and isinstance(value, int):
            value = self._label_names[column](value)
        return _text(value)

    @property
    def currency(self) -> str | None:
        """'HKD' for a column named price_hkd: the column name is the only place it is written."""
        price = self.columns.get("price") or ""
        return price.rsplit("_", 1)[1].upper() if "_" in price else None


def open_catalog(source, columns: ColumnMap = ColumnMap(), reading: Reading = Reading()) -> Catalog:
    """`source`: a CSV/JSONL manifest, a folder holding one, a `save_to_disk` folder,
    a `datasets.Dataset`, or a Hugging Face Hub dataset id."""
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
        if not found:
            raise CatalogError(f"{path} holds none of {', '.join(MANIFEST_NAMES)}.")
        path = found[0]
    if path.is_file():
        return _from_manifest(path, columns, reading)
    if path.suffix.lower() in (".csv", ".jsonl", ".json") or str(source).startswith((".", "/")):
        raise CatalogError(f"No catalog file at {path}.")
    return _from_hub(str(source), columns, reading)


def _from_manifest(path: Path, columns: ColumnMap, reading: Reading) -> Catalog:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            if path.suffix.lower() == ".csv":
                rows = list(csv.DictReader(f))
            else:
                rows = [json.loads(line) for line in f if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise CatalogError(f"Cannot parse {path}: {exc}") from exc
    if not rows:
        raise CatalogError(f"The catalog {path} has no rows.")
    names = list(rows[0].keys())
    if reading.keep:
        column, values = _kept_column(reading.keep, names)
        total, rows = len(rows), [row for row in rows if _text(row.get(column)) in values]
        _check_kept(rows, reading.keep, total)
    source = CatalogSource("local", path=str(path.resolve()), **_reading_fields(reading))
    return Catalog(rows, columns.resolve(names), source, base_dir=path.parent.resolve(), text_columns=columns.text,
                   link_template=reading.link_template)


def _from_hub(dataset_id: str, columns: ColumnMap, reading: Reading) -> Catalog:
    import datasets

    try:
        dataset = datasets.load_dataset(dataset_id, reading.config, split=reading.split, revision=reading.revision)
    except Exception as exc:  # datasets raises many types for missing, private or offline datasets
        raise CatalogError(f"Could not load the dataset {dataset_id!r} (split {reading.split!r}): {exc}") from exc
    source = CatalogSource("hub", id=dataset_id, split=reading.split,
                           revision=_resolved_revision(dataset_id, reading.revision))
    return _from_dataset(dataset, columns, reading, source)


def _from_dataset(dataset, columns: ColumnMap, reading: Reading, source: CatalogSource) -> Catalog:
    import datasets

    if len(dataset) == 0:
        raise CatalogError("The dataset has no rows.")
    names = list(dataset.column_names)
    labels = {n: f.int2str for n, f in dataset.features.items() if isinstance(f, datasets.ClassLabel)}
    if reading.keep:
        column, values = _kept_column(reading.keep, names)
        name_of = labels.get(column)
        total = len(dataset)
        dataset = dataset.filter(  # one column read, no image decoded
            lambda v: _text(name_of(v) if name_of and isinstance(v, int) else v) in values,
            input_columns=column, desc="Keeping the catalog's rows")
        _check_kept(dataset, reading.keep, total)
    if columns.image is None:
        image_columns = [n for n, f in dataset.features.items() if isinstance(f, datasets.Image)]
        if image_columns:
            columns = ColumnMap(**{**columns.__dict__, "image": image_columns[0]})
    source = replace(source, **_reading_fields(reading))
    return Catalog(dataset, columns.resolve(names), source, label_names=labels, text_columns=columns.text,
                   link_template=reading.link_template)


def _reading_fields(reading: Reading) -> dict:
    """What the manifest records of how the catalog was read."""
    kept = f"{reading.keep[0]}={','.join(reading.keep[1])}" if reading.keep else None
    return {"config": reading.config, "kept": kept, "credit": reading.credit}


def _kept_column(keep: tuple[str, tuple[str, ...]], names: list[str]) -> tuple[str, frozenset[str]]:
    column, values = keep
    if column not in names:
        raise CatalogError(f"The catalog has no column {column!r} to keep rows by; it has {names}.")
    return column, frozenset(values)


def _check_kept(rows, keep: tuple[str, tuple[str, ...]], total: int) -> None:
    if len(rows) == 0:
        raise CatalogError(f"No row of the catalog has {keep[0]} in {', '.join(keep[1])}; nothing to index.")
    log.info("Kept %d of %d catalog rows (%s in %s).", len(rows), total, keep[0], ", ".join(keep[1]))


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


def _price(value) -> float | str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def _number(value) -> float | None:
    price = _price(value)
    return price if isinstance(price, float) and math.isfinite(price) else None


def _column_names(rows) -> list[str]:
    return list(rows.column_names) if hasattr(rows, "column_names") else list(rows[0].keys())


def _holds_words(rows, column: str) -> bool:
    """Whether `column` holds words: text with letters, not numbers, paths, links or file names."""
    if hasattr(rows, "select_columns"):  # a datasets.Dataset: read this column alone, decoding no image
        sample = rows.select_columns([column])[:TEXT_SAMPLE][column]
    else:
        sample = [row.get(column) for row in rows[:TEXT_SAMPLE]]
    sample = [_in_english(v) if _is_multilingual(v) else v for v in sample]
    texts = [v.strip() for v in sample if isinstance(v, str) and v.strip()]
    if not texts or len(texts) < len([v for v in sample if v not in (None, "")]):  # not every value is text
        return False
    words = [t for t in texts if re.search(r"[^\W\d_]", t) and not _looks_like_a_path(t) and _number(t) is None
             and not _looks_like_a_code(t)]
    return len(words) >= 0.9 * len(texts)


def _looks_like_a_code(text: str) -> bool:
    """An identifier such as an image id ("81iZlv3bjpL"): one token of letters and digits."""
    return bool(re.fullmatch(r"[\w-]+", text) and re.search(r"\d", text))


def _looks_like_a_path(text: str) -> bool:
    return "://" in text or "/" in text or "\\" in text or bool(re.fullmatch(r"\S+\.[A-Za-z0-9]{2,5}", text))


def _link(value) -> str | None:
    # Only web links: a catalog must not be able to put javascript: or file: links on the page.
    text = _text(value)
    return text if text and text.lower().startswith(("https://", "http://")) else None
