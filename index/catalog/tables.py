"""A dataset's parquet files read where they lie, on the Hub or in a folder, never downloaded whole.

The small columns (ids, names, types) are read whole, file by file; a column of large values (image
bytes) is read only at the rows asked for, one row group at a time. A dataset's configurations and
their files are found as `datasets` finds them (its card's `configs`, or the files' layout).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

from core.errors import LookalikeError

from .retrying import gist, retried, transient

READERS = 8  # files read at once: the Hub's latency, not the bandwidth, bounds reading many small parts
# The least fetched per read of a remote file. Small, because reading one column of a shard reads its
# part of each row group, scattered through the file: with 1 MB blocks the ids of a 60 MB image shard
# of 100-row groups would cost most of the shard; a larger part (a row group's images) is read whole.
BLOCK = 1 << 16


class TableError(LookalikeError):
    """A dataset's configuration or files cannot be found or read."""


Position = tuple[int, int]  # (file, row in that file)


@dataclass(frozen=True)
class DatasetFiles:
    """The parquet files of one split of one configuration of a dataset."""

    source: str  # a Hub dataset id or a folder
    config: str | None
    split: str
    files: tuple[str, ...]

    @property
    def revision(self) -> str | None:
        """The Hub commit the files' addresses name (hf://datasets/OWNER/NAME@COMMIT/...), if any."""
        found = re.match(r"hf://datasets/[^@/]+/[^@/]+@([0-9a-f]{40})/", self.files[0]) if self.files else None
        return found.group(1) if found else None


def config_names(source: str, revision: str | None = None) -> list[str]:
    import datasets

    try:
        return list(retried(lambda: datasets.get_dataset_config_names(source, revision=revision), f"Listing {source}"))
    except Exception as exc:  # datasets raises many types for missing, private or offline datasets
        raise TableError(f"Could not list the configurations of {source!r}: {gist(exc)}{_later(exc)}") from exc


def dataset_files(
    source: str, config: str | None, split: str = "train", revision: str | None = None
) -> DatasetFiles | None:
    """The files of `source`'s `config` and `split`; None when they are not parquet (then only
    `datasets` itself can read them)."""
    import datasets

    try:
        builder = retried(lambda: datasets.load_dataset_builder(source, config, revision=revision), f"Finding {source}")
    except Exception as exc:
        raise TableError(
            f"Could not find the dataset {source!r}{f' (configuration {config!r})' if config else ''}: "
            f"{gist(exc)}{_later(exc)}"
        ) from exc
    files = (builder.config.data_files or {}).get(split)
    if files is None:
        known = ", ".join(builder.config.data_files or {}) or "none"
        raise TableError(f"The dataset {source!r} has no split {split!r} (it has {known}).")
    files = tuple(str(f) for f in files)
    if not files or not all(f.lower().endswith(".parquet") for f in files):
        return None
    return DatasetFiles(source, config, split, files)


class ParquetTable:
    """The rows of a set of parquet files; a row is named by its `Position`."""

    def __init__(self, files: DatasetFiles):
        self.files = files

    @cached_property
    def schema(self):
        import pyarrow.parquet as pq

        with _open(self.files.files[0]) as f:
            try:
                return pq.read_schema(f)
            except Exception as exc:
                raise _unreadable(self.files.files[0], exc) from exc

    @property
    def column_names(self) -> list[str]:
        return list(self.schema.names)

    @cached_property
    def image_columns(self) -> list[str]:
        """Columns holding images: `datasets.Image` features, or any struct of bytes and path."""
        import datasets
        import pyarrow as pa

        try:
            features = datasets.Features.from_arrow_schema(self.schema)
        except Exception:  # a schema written by other tools: judged by its types alone
            features = {}
        return [
            field.name
            for field in self.schema
            if isinstance(features.get(field.name), datasets.Image)
            or (pa.types.is_struct(field.type) and field.type.get_field_index("bytes") >= 0)
        ]

    def head(self, rows: int) -> list[dict]:
        """The first `rows` rows of the first file, every column but the images: a sample to judge columns by."""
        import pyarrow.parquet as pq

        columns = [c for c in self.column_names if c not in self.image_columns]
        with _open(self.files.files[0]) as f:
            try:
                batch = next(pq.ParquetFile(f).iter_batches(batch_size=rows, columns=columns), None)
            except Exception as exc:
                raise _unreadable(self.files.files[0], exc) from exc
        return batch.to_pylist() if batch is not None else []

    def read(self, columns: list[str]) -> tuple[list[dict], list[Position]]:
        """Every row's `columns`, and each row's position."""
        missing = [c for c in columns if c not in self.column_names]
        if missing:
            raise TableError(f"{self.name} has no column {missing[0]!r}; it has {self.column_names}.")

        def one(i_path):
            import pyarrow.parquet as pq

            i, path = i_path
            with _open(path) as f:
                try:
                    rows = pq.read_table(f, columns=columns).to_pylist()
                except Exception as exc:  # pyarrow's errors for a damaged file, or the Hub's after its retries
                    raise _unreadable(path, exc) from exc
            return rows, [(i, r) for r in range(len(rows))]

        rows, positions = [], []
        for file_rows, file_positions in self._map(one, list(enumerate(self.files.files))):
            rows += file_rows
            positions += file_positions
        return rows, positions

    def values_at(self, column: str, positions: list[Position]) -> list:
        """`column`'s value at each position, reading only the row groups that hold them; an `Unreadable` for
        the rows of a damaged row group (a product loses its image, not the build its catalog)."""
        wanted: dict[int, list[int]] = defaultdict(list)
        for file, row in positions:
            wanted[file].append(row)
        values = dict(self._map(lambda file: (file, self._read_rows(file, column, wanted[file])), list(wanted)))
        return [values[file][row] for file, row in positions]

    def _read_rows(self, file: int, column: str, rows: list[int]) -> dict[int, object]:
        import pyarrow.parquet as pq

        path = self.files.files[file]
        found: dict[int, object] = {}
        with _open(path) as f:
            try:
                parquet = pq.ParquetFile(f)
            except Exception as exc:
                raise _unreadable(path, exc) from exc
            sizes = [parquet.metadata.row_group(g).num_rows for g in range(parquet.metadata.num_row_groups)]
            starts = [0, *accumulate(sizes)]
            by_group: dict[int, list[int]] = defaultdict(list)
            for row in set(rows):
                by_group[bisect_right(starts, row) - 1].append(row)
            for g, in_group in by_group.items():
                try:
                    values = parquet.read_row_group(g, columns=[column]).column(0)
                except Exception as exc:
                    error = _unreadable(path, exc)
                    if not isinstance(error, DamagedFile):  # the Hub failing still: the build stops, saying so
                        raise error from exc
                    found.update(dict.fromkeys(in_group, Unreadable("damaged image file", f"{error} (row group {g})")))
                    continue
                found.update({row: values[row - starts[g]].as_py() for row in in_group})
        return found

    @property
    def name(self) -> str:
        config = f" (configuration {self.files.config})" if self.files.config else ""
        return f"{self.files.source}{config}"

    def _map(self, fn, items):
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(min(READERS, len(items))) as pool:
            return list(pool.map(fn, items))


@dataclass(frozen=True)
class StoredImage:
    """An image in a column of a dataset's parquet files, read when the build needs it."""

    table: ParquetTable
    column: str
    at: Position


@dataclass(frozen=True)
class Unreadable:
    """A stored value that could not be read: why, in a word to count by, and in full."""

    reason: str
    detail: str


class DamagedFile(TableError):
    """A file of the dataset is not the parquet file it should be (cut short, damaged)."""


def _open(path: str):
    import fsspec

    try:
        if "://" not in path:
            return open(path, "rb")
        return retried(lambda: fsspec.open(path, "rb", block_size=BLOCK).open(), f"Opening {path}")
    except Exception as exc:
        raise TableError(f"Could not open {path}: {gist(exc)}{_later(exc)}") from exc


def _unreadable(path: str, exc: Exception) -> TableError:
    """What a failed read of `path` means: the Hub failing still (try later), or a damaged file."""
    if isinstance(exc, TableError):
        return exc
    if transient(exc) is not None:
        return TableError(f"Could not read {path}: {gist(exc)}{_later(exc)}")
    return DamagedFile(f"{path} is not a readable parquet file ({gist(exc)}): it is damaged or cut short.")


def _later(exc: Exception) -> str:
    return " (the Hub failed on every try; try again in a few minutes)" if transient(exc) is not None else ""
