"""Opening a catalog: a local CSV/JSONL manifest or product feed, a `datasets` folder or dataset, a Hub
dataset, or a folder laid out as one.

A product's image may be a file, an image column's value, a web link (fetched when the index is
built: `index.catalog.fetch`) or, for a Hub dataset, an image stored in another of its configurations,
named by id (`Reading.images`: `index.catalog.from_tables`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

from .catalog import Catalog, check_kept, kept_column
from .from_tables import read_tables
from .source import MANIFEST_NAMES, CatalogError, CatalogSource, ColumnMap, Reading, recorded_reading
from .values import as_text, whole_column


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
        return _from_dataset(
            dataset, columns, reading, CatalogSource("disk", path=str(path.resolve()), split=reading.split)
        )
    if path.is_dir():
        found = [path / n for n in MANIFEST_NAMES if (path / n).exists()]
        if not found and not any(path.glob("**/*.parquet")):
            raise CatalogError(f"{path} holds none of {', '.join(MANIFEST_NAMES)}, and no parquet files.")
        if not found:
            return read_tables(str(path.resolve()), columns, reading)
        path = found[0]
    if path.is_file():
        return _from_manifest(path, columns, reading)
    if path.suffix.lower() in (".csv", ".jsonl", ".json") or str(source).startswith((".", "/")):
        raise CatalogError(f"No catalog file at {path}.")
    return read_tables(str(source), columns, reading)


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
    every_category, notes = whole_column(rows, resolved["category"]), [f"Read {len(rows):,} rows of {path}."]
    if reading.keep:
        column, values = kept_column(reading.keep, names)
        total, rows = len(rows), [row for row in rows if as_text(row.get(column)) in values]
        notes.append(check_kept(rows, reading.keep, total))
    source = CatalogSource("local", path=str(path.resolve()), **recorded_reading(reading))
    return Catalog(
        rows,
        resolved,
        source,
        base_dir=path.parent.resolve(),
        text_columns=columns.text,
        every_category=every_category,
        notes=notes,
        **_choosing(reading),
    )


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
    every_category, notes = whole_column(dataset, resolved["category"]), []
    if reading.keep:
        column, values = kept_column(reading.keep, names)
        name_of = labels.get(column)
        total = len(dataset)
        dataset = dataset.filter(  # one column read, no image decoded
            lambda v: as_text(name_of(v) if name_of and isinstance(v, int) else v) in values,
            input_columns=column,
            desc="Keeping the catalog's rows",
        )
        notes.append(check_kept(dataset, reading.keep, total))
    source = replace(source, **recorded_reading(reading))
    return Catalog(
        dataset,
        resolved,
        source,
        label_names=labels,
        text_columns=columns.text,
        schema={n: str(f) for n, f in dataset.features.items()},
        every_category=every_category,
        notes=notes,
        **_choosing(reading),
    )


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
        filled.append(
            row if product is row else {k: v if v not in (None, "") else product.get(k) for k, v in row.items()}
        )
    return filled
