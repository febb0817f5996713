"""An index version's `manifest.json`: what was indexed, with which encoder, by which software."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path

import numpy as np

from core.types import EncoderInfo

from .catalog import CatalogSource
from .errors import IndexCorruptError, IndexMismatchError

FORMAT_VERSION = 1
# Cosine between the stored probe embedding and the encoder's own: equal weights and
# preprocessing give ~1.0 (CPU vs GPU float noise stays far above this).
PROBE_MIN_COSINE = 0.99


@dataclass(frozen=True)
class Manifest:
    encoder: EncoderInfo
    probe: tuple[float, ...]  # the encoder's embedding of a fixed synthetic image (Encoder.probe)
    source: CatalogSource
    columns: dict[str, str | None]  # product field -> the catalog column it was read from
    currency: str | None
    created: str  # UTC, ISO 8601
    versions: dict[str, str] = field(default_factory=dict)  # package -> version that built the index
    products: int = 0
    skipped: int = 0  # catalog images that could not be read
    background: tuple[int, int, int] | None = None  # the catalog photos' median border colour
    format: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = {**asdict(self), "source": self.source.to_dict()}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        """The manifest at `path`; IndexCorruptError, naming what is wrong, when it cannot be one."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"{path} is missing; rebuild the index.") from exc
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"{path} cannot be read ({exc}); rebuild the index.") from exc
        if not isinstance(data, dict):
            raise IndexCorruptError(f"{path} holds no JSON object; rebuild the index.")
        if data.get("format") != FORMAT_VERSION:
            raise IndexCorruptError(f"{path.parent} has index format {data.get('format')}; this Lookalike reads "
                                    f"format {FORMAT_VERSION}. Rebuild it with `python -m index build`.")
        known = {f.name for f in fields(cls)}
        try:
            values = {k: v for k, v in data.items() if k in known}
            values["encoder"] = EncoderInfo(**data["encoder"])
            values["source"] = CatalogSource(**data["source"])
            values["probe"] = tuple(float(x) for x in data["probe"])
            if values.get("background") is not None:
                values["background"] = tuple(int(v) for v in values["background"])
            return cls(**values)
        except KeyError as exc:
            raise IndexCorruptError(f"{path} has no field {exc}; rebuild the index.") from exc
        except (TypeError, ValueError) as exc:
            raise IndexCorruptError(f"{path} has a field of the wrong shape ({exc}); rebuild the index.") from exc

    def check_encoder(self, encoder, where: Path | None) -> None:
        """Refuse an encoder other than the one the index at `where` was built with."""
        built = self.encoder
        if built.dim != encoder.dim or float(np.asarray(self.probe, np.float32) @ encoder.probe()) < PROBE_MIN_COSINE:
            raise IndexMismatchError(
                f"The index at {where} was built with the encoder {built.name!r} ({built.dim}-d) but the encoder in "
                f"use is {encoder.name!r} ({encoder.dim}-d), whose embeddings differ. Search with --encoder "
                f"{built.name!r}, or rebuild the index with --encoder {encoder.name!r}.")


def package_versions() -> dict[str, str]:
    """The installed versions of the packages whose behaviour an index or a benchmark depends on."""
    found = {}
    for name in ("faiss-cpu", "torch", "transformers", "datasets", "ultralytics"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found
