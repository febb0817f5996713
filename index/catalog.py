"""Reading a product catalog: a local CSV/JSONL manifest, a `datasets` folder, or a Hub dataset."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterator

from core.errors import LookalikeError

# Tried in order, case-insensitively, when a column is not named explicitly.
COLUMN_CANDIDATES = {
    "image": ("image", "image_path", "file_name", "img", "path", "picture"),
    "id": ("product_id", "id", "sku", "article_number", "item_id"),
    "name": ("name", "title", "product_name", "product_title"),
    "category": ("category", "type", "product_type", "class", "label"),
    "price": ("price", "price_usd", "price_eur", "price_gbp", "price_hkd", "sale_price"),
    "link": ("url", "link", "product_url", "href"),
}
MANIFEST_NAMES = ("metadata.csv", "metadata.jsonl", "products.csv", "products.jsonl")


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
class ColumnMap:
    """Which catalog column holds each product field; None means work it out from the column names."""

    image: str | None = None
    id: str | None = None
    name: str | None = None
    category: str | None = None
    price: str | None = None
    link: str | None = None

    def resolve(self, columns: list[str]) -> dict[str, str | None]:
        by_lower = {c.lower(): c for c in columns}
        resolved = {}
        for f in fields(self):
            given = getattr(self, f.name)
            if given is not None and given not in columns:
                raise CatalogError(f"The catalog has no column {given!r} (for {f.name}); it has {columns}.")
            resolved[f.name] = given or next(
                (by_lower[c] for c in COLUMN_CANDIDATES[f.name] if c in by_lower), None
            )
        if resolved["image"] is None:
            raise CatalogError(f"No image column found among {columns}; name it with --image-column.")
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


class Catalog:
    """A sized, re-iterable sequence of `CatalogItem`s plus where it came from."""

    def __init__(self, rows, columns: dict[str, str | None], source: CatalogSource, base_dir: Path | None = None,
                 label_names: dict | None = None):
        self._rows, self.columns, self.source, self._base_dir = rows, columns, source, base_dir
        self._label_names = label_names or {}  # column -> int2str of a datasets ClassLabel

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[CatalogItem]:
        c = self.columns
        for i, row in enumerate(self._rows):
            image = row[c["image"]]
            if self._base_dir is not None and isinstance(image, str):
                image = self._base_dir / image
            category = self._value(row, c["category"])
            yield CatalogItem(
                row=i,
                id=self._value(row, c["id"]) or str(i),
                # A labelled image folder has no names: its class label is the best caption there is.
                name=self._value(row, c["name"]) if c["name"] else category,
                category=category,
                price=_price(row.get(c["price"])) if c["price"] else None,
                link=_link(row.get(c["link"])) if c["link"] else None,
                image=image,
            )

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


def open_catalog(source, columns: ColumnMap = ColumnMap(), split: str = "train",
                 revision: str | None = None) -> Catalog:
    """`source`: a CSV/JSONL manifest, a folder holding one, a `save_to_disk` folder,
    a `datasets.Dataset`, or a Hugging Face Hub dataset id."""
    import datasets

    if isinstance(source, datasets.Dataset):
        return _from_dataset(source, columns, CatalogSource("dataset", fingerprint=source._fingerprint))
    path = Path(source)
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
        loaded = datasets.load_from_disk(str(path))
        dataset = loaded[split] if isinstance(loaded, datasets.DatasetDict) else loaded
        return _from_dataset(dataset, columns, CatalogSource("disk", path=str(path.resolve()), split=split))
    if path.is_dir():
        found = [path / n for n in MANIFEST_NAMES if (path / n).exists()]
        if not found:
            raise CatalogError(f"{path} holds none of {', '.join(MANIFEST_NAMES)}.")
        path = found[0]
    if path.is_file():
        return _from_manifest(path, columns)
    if path.suffix.lower() in (".csv", ".jsonl", ".json") or str(source).startswith((".", "/")):
        raise CatalogError(f"No catalog file at {path}.")
    return _from_hub(str(source), columns, split, revision)


def _from_manifest(path: Path, columns: ColumnMap) -> Catalog:
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
    return Catalog(rows, columns.resolve(names), CatalogSource("local", path=str(path.resolve())),
                   base_dir=path.parent.resolve())


def _from_hub(dataset_id: str, columns: ColumnMap, split: str, revision: str | None) -> Catalog:
    import datasets

    try:
        dataset = datasets.load_dataset(dataset_id, split=split, revision=revision)
    except Exception as exc:  # datasets raises many types for missing, private or offline datasets
        raise CatalogError(f"Could not load the dataset {dataset_id!r} (split {split!r}): {exc}") from exc
    source = CatalogSource("hub", id=dataset_id, split=split, revision=_resolved_revision(dataset_id, revision))
    return _from_dataset(dataset, columns, source)


def _from_dataset(dataset, columns: ColumnMap, source: CatalogSource) -> Catalog:
    import datasets

    if len(dataset) == 0:
        raise CatalogError("The dataset has no rows.")
    names = list(dataset.column_names)
    if columns.image is None:
        image_columns = [n for n, f in dataset.features.items() if isinstance(f, datasets.Image)]
        if image_columns:
            columns = ColumnMap(**{**columns.__dict__, "image": image_columns[0]})
    labels = {n: f.int2str for n, f in dataset.features.items() if isinstance(f, datasets.ClassLabel)}
    return Catalog(dataset, columns.resolve(names), source, label_names=labels)


def _resolved_revision(dataset_id: str, revision: str | None) -> str | None:
    """The commit the Hub serves for `revision`, so the manifest pins exactly what was indexed."""
    from huggingface_hub import HfApi

    try:
        return HfApi().dataset_info(dataset_id, revision=revision).sha
    except Exception:  # offline, or a local datasets script: the manifest then records what was asked
        return revision


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _price(value) -> float | str | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def _link(value) -> str | None:
    # Only web links: a catalog must not be able to put javascript: or file: links on the page.
    text = _text(value)
    return text if text and text.lower().startswith(("https://", "http://")) else None
