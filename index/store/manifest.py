"""An index version's `manifest.json`: what was indexed, with which encoder, by which software."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pydantic

from core.types import EncoderInfo
from index.catalog.source import CatalogSource
from index.errors import IndexCorruptError, IndexMismatchError
from index.vectors.backend import VectorSpec
from index.vectors.calibration import Calibration

# 2: checksums of every file, and of the manifest in CURRENT; 3: the similarity scale (calibration),
# products' text columns and popularity; 4: products' kinds (kinds.json) and the vector backend;
# 5: an adaptation of the encoder (index.store.adaptation), which a reader of format 4 would ignore; 6: the product
# table in parquet (index.store.products), loaded in seconds at a million products
FORMAT_VERSION = 6
READABLE_FORMATS = (4, 5, 6)  # 4 is 5 without an adaptation; 5 is 6 with the product table in JSON lines
# Cosine between the stored probe embedding and the encoder's own: equal weights and
# preprocessing give ~1.0 (CPU vs GPU float noise stays far above this).
PROBE_MIN_COSINE = 0.99


@dataclass(frozen=True)
class AdaptationInfo:
    """How an index's vectors were adapted to its catalog (`index.builder.adapted`, `python -m train adapt`)."""

    encoder: EncoderInfo  # the frozen encoder the adaptation was learnt on
    probe: tuple[float, ...]  # that encoder's Encoder.probe
    method: str
    created: str  # UTC, ISO 8601
    figures: dict[str, str | int | float] = field(default_factory=dict)  # what learning it took and measured
    file: str = "adaptation.safetensors"


@dataclass(frozen=True)
class HubnessInfo:
    """How the catalog photos' hubness was measured (`index.store.hubness`, `python -m train hubs`)."""

    views: int  # the shopper-like views of catalog photos it was measured on
    neighbours: int  # each photo's nearest views whose mean similarity is its hubness
    created: str  # UTC, ISO 8601
    file: str = "hubness.safetensors"


@dataclass(frozen=True)
class CloseUpInfo:
    """The catalog photos' middles, embedded for photos of one product (`index.store.close_ups`), measured
    with the hubness."""

    share: float  # the middle share of each photo's sides embedded (settings.catalog.close_up_share)
    file: str = "close-ups.safetensors"


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
    photo_share: float = 1.0  # the middle share of each photo's sides embedded (settings.catalog.photo_share)
    text_columns: tuple[str, ...] = ()  # the other catalog columns kept as products' attributes, for text search
    calibration: Calibration | None = None  # the index's own similarity scale; None below 2 products
    vectors: VectorSpec = field(default_factory=VectorSpec)
    kind_rules: str = ""  # the SHA-256 of the kind rules the products' kinds were worked out with (KindRules.sha256)
    adaptation: AdaptationInfo | None = None  # None: the vectors are the encoder's own
    hubness: HubnessInfo | None = None  # None: not measured; else each photo's, of these very vectors
    close_ups: CloseUpInfo | None = None  # None: a photo of one product is searched among the vectors above
    # Every other file of the version (path relative to it) -> its SHA-256, written at build time.
    checksums: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def to_json(self) -> str:
        data = {**asdict(self), "source": self.source.to_dict()}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: Path, digest: str | None = None) -> Manifest:
        """The manifest at `path`, checked against its SHA-256 `digest` when given; IndexCorruptError,
        naming what is wrong, when it cannot be one."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise IndexCorruptError(f"{path} is missing; rebuild the index.") from exc
        except OSError as exc:
            raise IndexCorruptError(f"{path} cannot be read ({exc}); rebuild the index.") from exc
        if digest is not None and sha256(raw) != digest:
            raise IndexCorruptError(f"{path} is damaged: it is not the manifest its build wrote. Rebuild the index.")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise IndexCorruptError(f"{path} cannot be read ({exc}); rebuild the index.") from exc
        if not isinstance(data, dict):
            raise IndexCorruptError(f"{path} holds no JSON object; rebuild the index.")
        if data.get("format") not in READABLE_FORMATS:
            raise IndexCorruptError(
                f"{path.parent} has index format {data.get('format')}; this Lookalike reads "
                f"format {FORMAT_VERSION}. Rebuild it with `python -m index build`."
            )
        try:
            return _SCHEMA.validate_python(data)
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise IndexCorruptError(f"{path} has a bad field {where!r}: {error['msg']}; rebuild the index.") from exc

    def check_encoder(self, encoder, where: Path | None) -> None:
        """Refuse an encoder other than the one the index at `where` was built with."""
        built = self.encoder
        if built.dim != encoder.dim or float(np.asarray(self.probe, np.float32) @ encoder.probe()) < PROBE_MIN_COSINE:
            if built.name == encoder.name:  # other weights under one name, or another way of reading them
                raise IndexMismatchError(
                    f"The index at {where} was built with the encoder {built.name!r} as it embedded then "
                    f"({built.dim}-d); it embeds otherwise now ({encoder.dim}-d: other weights, or another version "
                    f"of Lookalike). Rebuild the index (python -m index build)."
                )
            raise IndexMismatchError(
                f"The index at {where} was built with the encoder {built.name!r} ({built.dim}-d) but the encoder in "
                f"use is {encoder.name!r} ({encoder.dim}-d), whose embeddings differ. Search with --encoder "
                f"{built.name!r}, or rebuild the index with --encoder {encoder.name!r}."
            )


_SCHEMA = pydantic.TypeAdapter(Manifest)  # the dataclasses' own types are the schema


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package_versions() -> dict[str, str]:
    """The installed versions of the packages whose behaviour an index or a benchmark depends on."""
    found = {}
    for name in ("faiss-cpu", "torch", "transformers", "datasets", "ultralytics"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found
