"""What a build would read, said before anything is embedded (`python -m index inspect`).

The catalog is opened exactly as `build` opens it; nothing is fetched but the rows themselves (and,
for images stored by id, the ids), so an operator checks in seconds which columns were taken and
why, what the filters keep of each product type, and where the images will come from.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from .catalog import Catalog
from .fetch import is_url
from .open import open_catalog
from .source import COLUMN_CANDIDATES, ColumnMap, Reading
from .tables import StoredImage, TableError, config_names

SAMPLES = 3
TYPES_SHOWN = 40  # product types listed; the rest are counted in one line


def inspect(source: str, columns: ColumnMap, reading: Reading) -> str:
    lines = [f"Catalog: {source}"]
    if not Path(source).is_file() and not (Path(source) / "dataset_info.json").exists():
        try:
            names = config_names(source, reading.revision)
            lines.append(
                f"Configurations: {', '.join(names)} (reading {reading.config or 'the default'}, split {reading.split})"
            )
        except TableError:
            pass  # a folder holding a manifest: no configurations
    catalog = open_catalog(source, columns, reading)
    lines += ["", "Columns:"]
    lines += [f"  {name}: {kind}" for name, kind in catalog.schema.items()]
    lines += ["", "Fields:"]
    lines += [
        f"  {field:<11} <- {column}: {_why(field, column, columns, reading)}" if column else f"  {field:<11} <- (none)"
        for field, column in catalog.columns.items()
    ]
    lines.append(
        f"  {'words':<11} <- {', '.join(catalog.text_columns) or '(none)'}: "
        + ("named by the settings" if columns.text is not None else "the other columns that hold words")
    )
    lines += ["", "Reading:", *(f"  {note}" for note in catalog.notes)]
    lines += ["", *_type_counts(catalog, reading)]
    items = list(islice(iter(catalog), SAMPLES))
    lines += ["", f"{len(catalog):,} products would be indexed. The first {len(items)} photos:"]
    for item in items:
        price = (
            f" · {item.price}" + (f" {catalog.currency}" if catalog.currency and isinstance(item.price, float) else "")
            if item.price is not None
            else ""
        )
        lines += [
            f"  {item.id} · {item.name} · {item.category}{price}",
            f"    link:  {item.link or '(none)'}",
            f"    image: {_image_text(item.image)}",
        ]
    lines += ["", f"Images: {_origin(items[0].image if items else None, catalog)}"]
    return "\n".join(lines)


def _why(field: str, column: str, given: ColumnMap, reading: Reading) -> str:
    if field == "image" and reading.images and column == reading.images[1]:
        return f"names each product's image by the {reading.images[2]} of {reading.images[0]}"
    if getattr(given, field) == column:
        return "named by the settings"
    if column.lower() in COLUMN_CANDIDATES[field]:
        return "the usual name of this field's column"
    return "the column holding images"


def _type_counts(catalog: Catalog, reading: Reading) -> list[str]:
    category = catalog.columns["category"]
    if not category:
        return ["No category column: no product types to count."]
    kept, taken = catalog.kept_categories, catalog.categories()
    lines = [f"Product types ({category}): rows read, kept (by the filters, with an image), taken (the cap)"]
    ordered = sorted(catalog.every_category.items(), key=lambda kv: (-kv[1], kv[0] or ""))
    for value, count in ordered[:TYPES_SHOWN]:
        lines.append(f"  {value or '(none)':<32} {count:>8,} {kept.get(value, 0):>8,} {taken.get(value, 0):>8,}")
    if len(ordered) > TYPES_SHOWN:
        rest = ordered[TYPES_SHOWN:]
        lines.append(f"  ... {len(rest)} more types, {sum(c for _, c in rest):,} rows")
    if reading.keep and reading.keep[0] == category:
        absent = sorted(set(reading.keep[1]) - set(catalog.every_category))
        if absent:
            lines.append(f"  Types kept that no row has: {', '.join(absent)}")
    return lines


def _image_text(image) -> str:
    if isinstance(image, StoredImage):
        return f"row {image.at[1]} of {image.table.files.files[image.at[0]]} ({image.column})"
    if isinstance(image, (str, Path)):
        return str(image)
    return type(image).__name__


def _origin(image, catalog: Catalog) -> str:
    if isinstance(image, StoredImage):
        return (
            f"stored in {image.table.name}'s column {image.column!r} (parquet); a build reads the row "
            f"groups that hold its products' images, nothing else."
        )
    if is_url(image):
        return (
            "web links: a build fetches them (8 at a time, 10 s timeout, 2 retries, 20 MB cap) into "
            "the user cache (lookalike/images), once per link."
        )
    if isinstance(image, Path):
        return f"files, relative to {image.parent}."
    if image is None:
        return "none: no product to index."
    return f"the catalog's image column {catalog.columns['image']!r}."
