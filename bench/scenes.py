"""Reading a scenes -> products benchmark: the scene photos with their ground-truth product ids."""

from __future__ import annotations

import csv
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import LookalikeError

HALVES = ("tune", "held")  # a fixed split of any scenes file: settings are chosen on one half, checked on the other


class BenchmarkError(LookalikeError):
    """The benchmark files cannot be read or lack what scoring needs."""


@dataclass(frozen=True)
class Scene:
    id: str
    image: Path
    truth: dict[str, frozenset[str]]  # ground-truth column -> product ids (may be empty)


def read_scenes(
    path: str | Path, columns: Sequence[str], limit: int | None = None, half: str | None = None
) -> list[Scene]:
    """The scenes of `path` (CSV: scene_id, image_path, and `columns` of `|`-separated product ids)
    that have ground truth in at least one of `columns`, in file order, at most `limit` of them;
    with `half`, only the scenes of that half (`in_half`)."""
    rows, names = _read_csv(path)
    missing = [c for c in ("scene_id", "image_path", *columns) if c not in names]
    if missing:
        raise BenchmarkError(f"{path} has no column {', '.join(map(repr, missing))}; it has {names}.")
    base = Path(path).resolve().parent
    scenes = []
    for row in rows:
        truth = {c: frozenset(p.strip() for p in (row[c] or "").split("|") if p.strip()) for c in columns}
        if any(truth.values()) and (half is None or in_half(row["scene_id"], half)):
            scenes.append(Scene(row["scene_id"], base / row["image_path"], truth))
    if not scenes:
        raise BenchmarkError(f"No scene of {path} has ground truth in {list(columns)}.")
    return scenes[:limit] if limit else scenes


def in_half(scene_id: str, half: str) -> bool:
    """Whether a scene is in `half` of `HALVES`: by a checksum of its id, so the split never changes."""
    if half not in HALVES:
        raise BenchmarkError(f"half must be one of {', '.join(HALVES)}, got {half!r}.")
    return HALVES[zlib.crc32(scene_id.encode()) % 2] == half


def read_product_classes(path: str | Path, column: str) -> dict[str, str] | None:
    """product_id -> the detector class it is scored as (e.g. `coco_class`); None without that column.

    For scoring only: the pipeline never reads it.
    """
    rows, names = _read_csv(path)
    if column not in names or "product_id" not in names:
        return None
    return {row["product_id"]: row[column] for row in rows if row[column]}


def _read_csv(path: str | Path) -> tuple[list[dict], list[str]]:
    try:
        with Path(path).open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            return list(reader), list(reader.fieldnames or [])
    except OSError as exc:
        raise BenchmarkError(f"Cannot read {path}: {exc}") from exc
