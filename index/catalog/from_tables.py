"""A catalog read from a dataset's parquet files (a Hub dataset, or a folder laid out as one).

Only the columns the catalog uses are read; images are left where they are, as `StoredImage`s the
build reads a batch at a time, so a capped build reads the image bytes of the products it takes
and no others. Images kept in another configuration, named by id (`Reading.images`, e.g. ABO's
listings' `main_image_id` -> `images_small`'s `image_id`), are joined to their rows the same way.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from .catalog import Catalog, check_kept, kept_column
from .source import CatalogError, CatalogSource, ColumnMap, Reading, link_columns, recorded_reading
from .tables import ParquetTable, Position, StoredImage, TableError, dataset_files
from .values import TEXT_SAMPLE, as_text, holds_words

log = logging.getLogger(__name__)


def read_tables(source: str, columns: ColumnMap, reading: Reading) -> Catalog:
    table = _table(source, reading.config, reading)
    if table is None:
        return _streamed(source, columns, reading)
    sample = table.head(TEXT_SAMPLE)
    if not sample:
        raise CatalogError(f"The dataset {source!r} has no rows.")
    names = table.column_names
    columns = _with_image_column(columns, table, reading)
    resolved = columns.resolve(names)
    used = {c for c in resolved.values() if c}
    text = (
        columns.text
        if columns.text is not None
        else tuple(c for c in sample[0] if c not in used and holds_words(sample, c))
    )
    # A column named but missing is left for the catalog to refuse, in its own words.
    rows, positions = table.read(sorted(_needed(resolved, text, reading) & set(names) - set(table.image_columns)))
    every_category = [row.get(resolved["category"]) for row in rows] if resolved["category"] else None
    notes = [f"Read {len(rows):,} rows of {len(table.files.files)} parquet file(s) of {table.name}."]
    if reading.keep:
        column, values = kept_column(reading.keep, names)
        kept = [i for i, row in enumerate(rows) if as_text(row.get(column)) in values]
        total, rows, positions = len(rows), [rows[i] for i in kept], [positions[i] for i in kept]
        notes.append(check_kept(rows, reading.keep, total))
    keys = None
    if reading.images:
        rows, keys, note = _joined(rows, source, reading)
        notes.append(note)
    elif resolved["image"] in table.image_columns:
        for row, at in zip(rows, positions):
            row[resolved["image"]] = StoredImage(table, resolved["image"], at)
        keys = positions  # a capped build takes neighbouring rows, so it reads few row groups
    return Catalog(
        rows,
        resolved,
        _catalog_source(source, table, reading),
        text_columns=text,
        links=reading.links,
        limit=reading.limit,
        prefer=reading.prefer,
        keys=keys,
        schema={f.name: str(f.type) for f in table.schema},
        every_category=every_category,
        notes=notes,
    )


def _with_image_column(columns: ColumnMap, table: ParquetTable, reading: Reading) -> ColumnMap:
    """`columns` with the image column filled in where it was not named: the column naming the images
    stored apart, else the table's first image column."""
    names = table.column_names
    if reading.images:
        joined = reading.images[1]
        if joined not in names:
            raise CatalogError(f"The catalog has no column {joined!r} naming its images; it has {names}.")
        return replace(columns, image=columns.image or joined)
    if columns.image is None and table.image_columns:
        return replace(columns, image=table.image_columns[0])
    return columns


def _catalog_source(source: str, table: ParquetTable, reading: Reading) -> CatalogSource:
    """A folder laid out as a dataset, or a Hub dataset at the commit indexed."""
    if table.files.source.startswith("/"):
        return CatalogSource("disk", path=source, split=reading.split, **recorded_reading(reading))
    revision = table.files.revision or _resolved_revision(source, reading.revision)
    return CatalogSource("hub", id=source, split=reading.split, revision=revision, **recorded_reading(reading))


def image_table(source: str, reading: Reading) -> ParquetTable:
    """The table `reading.images` names: a configuration of `source`, or another dataset (it has a '/')."""
    assert reading.images is not None  # asked for a reading that names where its images are stored
    where = reading.images[0]
    other = "/" in where
    table = _table(where if other else source, None if other else where, reading)
    if table is None:
        raise CatalogError(f"The images of {where!r} are not in parquet files; only parquet tables are joined.")
    if not table.image_columns:
        raise CatalogError(f"{where!r} holds no image column (it has {table.column_names}).")
    if reading.images[2] not in table.column_names:
        raise CatalogError(
            f"{where!r} has no column {reading.images[2]!r} to find images by; it has {table.column_names}."
        )
    return table


def _joined(rows: list[dict], source: str, reading: Reading) -> tuple[list[dict], list[Position], str]:
    """The rows whose image the image table holds, each row's reference replaced by its `StoredImage`;
    each image's position, to take neighbours by; and a note saying how many were found."""
    assert reading.images is not None  # asked for a reading that names where its images are stored
    _, left, right = reading.images
    table = image_table(source, reading)
    wanted = {row[left] for row in rows if row.get(left)}
    ids, positions = table.read([right])
    found = {i[right]: at for i, at in zip(ids, positions) if i[right] in wanted}
    joined = [
        {**row, left: StoredImage(table, table.image_columns[0], found[row[left]])}
        for row in rows
        if row.get(left) in found
    ]
    if not joined:
        raise CatalogError(
            f"None of the {len(rows)} rows' {left} is an {right} of {reading.images[0]!r}; nothing to index."
        )
    note = (
        f"Found the images of {len(joined):,} of {len(rows):,} rows in {table.name} ({left} = {right}, "
        f"{len(ids):,} images in {len(table.files.files)} parquet file(s))."
    )
    log.info("%s", note)
    return joined, [row[left].at for row in joined], note


def _needed(resolved: dict, text: tuple[str, ...], reading: Reading) -> set[str]:
    """The columns a catalog reads: its fields', its words', and those the reading names."""
    needed = {c for c in resolved.values() if c} | set(text)
    needed |= {c for c in (reading.keep and reading.keep[0], reading.prefer and reading.prefer[0]) if c}
    return needed | (link_columns(reading.links) if not resolved["link"] else set())


def _table(source: str, config: str | None, reading: Reading) -> ParquetTable | None:
    try:
        files = dataset_files(source, config, reading.split, reading.revision)
    except TableError as exc:
        raise CatalogError(str(exc)) from exc
    return ParquetTable(files) if files else None


def _streamed(source: str, columns: ColumnMap, reading: Reading) -> Catalog:
    """A dataset that is not parquet, read row by row with `datasets` (streaming: nothing is kept on
    disk), its images kept undecoded."""
    import datasets

    try:
        stream = datasets.load_dataset(
            source, reading.config, split=reading.split, revision=reading.revision, streaming=True
        )
        for name, feature in (stream.features or {}).items():
            if isinstance(feature, datasets.Image):
                stream = stream.cast_column(name, datasets.Image(decode=False))
                columns = columns if columns.image else replace(columns, image=name)
        rows = list(stream)
    except Exception as exc:  # datasets raises many types for missing, private or offline datasets
        raise CatalogError(f"Could not read the dataset {source!r} (split {reading.split!r}): {exc}") from exc
    if not rows:
        raise CatalogError(f"The dataset {source!r} has no rows.")
    names = list(rows[0])
    resolved = columns.resolve(names)
    every_category = [row.get(resolved["category"]) for row in rows] if resolved["category"] else None
    notes = [f"Read all {len(rows):,} rows of {source}, images included: its files are not parquet."]
    if reading.keep:
        column, values = kept_column(reading.keep, names)
        total, rows = len(rows), [row for row in rows if as_text(row.get(column)) in values]
        notes.append(check_kept(rows, reading.keep, total))
    catalog_source = CatalogSource(
        "hub",
        id=source,
        split=reading.split,
        revision=_resolved_revision(source, reading.revision),
        **recorded_reading(reading),
    )
    return Catalog(
        rows,
        resolved,
        catalog_source,
        text_columns=columns.text,
        links=reading.links,
        limit=reading.limit,
        prefer=reading.prefer,
        every_category=every_category,
        notes=notes,
    )


def _resolved_revision(dataset_id: str, revision: str | None) -> str | None:
    """The commit the Hub serves for `revision`, so the manifest pins exactly what was indexed."""
    from huggingface_hub import HfApi

    try:
        return HfApi().dataset_info(dataset_id, revision=revision).sha
    except Exception:  # offline, or a local datasets script: the manifest then records what was asked
        return revision
