"""Bring an index up to date with its catalog: new products embedded, removed ones dropped, and a
product's photo embedded again only when its content changed (`index.catalog.image_reader.digest`).

An update is a build (`index.builder.build.build_index`) that takes each unchanged photo's vector and thumbnail
over from the live version: it writes a new version beside it and makes it live atomically, so a killed
update leaves the live index as it was, and a running app picks the new version up (`search.starting`).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.paths import cache_root
from index.catalog.catalog import Catalog
from index.catalog.fetch import ImageFetcher, is_url
from index.catalog.image_reader import ImageReader
from index.catalog_index import CatalogIndex
from index.store.manifest import AdaptationInfo
from index.store.products import DIGEST_BYTES, read_photos
from index.store.products import FILES as TABLE_FILES
from index.store.versions import file_sha256, link_or_copy
from index.vectors.backends import spec_for

from .build import BuildReport, build_index
from .embedded import Embedded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpdateReport:
    build: BuildReport
    before: frozenset[str]  # the products of the version updated

    @property
    def added(self) -> int:
        return len(self.build.ids - self.before)

    @property
    def removed(self) -> int:
        return len(self.before - self.build.ids)

    def summary(self) -> str:
        build = self.build
        if not build.changed:
            return f"The index in {build.path.parent} is up to date: {build.products} products, nothing changed."
        return (
            f"Updated the index in {build.path.parent} in {build.seconds:.1f} s: {build.products} products "
            f"({self.added} added, {self.removed} removed); {build.reused} photos kept, "
            f"{build.products - build.reused} embedded{build.skipped_summary()}."
        )


def update_index(
    catalog: Catalog,
    encoder,
    directory: str | Path,
    *,
    vector_index: str | None = None,
    thumbnails: str | None = None,
    **build_options,
) -> UpdateReport:
    """Update the index in `directory` to `catalog`, embedding with `encoder` (the one it was built with,
    checked) what it does not hold; web images are fetched anew, so that a photo changed at its link is
    seen; each new photo framed as the index's were (its `photo_share`). `vector_index`, `thumbnails`: as a
    build's, or None to keep the live version's. The other options are `build_index`'s."""
    previous = CatalogIndex.load(directory, encoder)
    photos = read_photos(previous.path, len(previous))
    embedded = LiveVersion(previous, *(photos or (np.zeros((0, DIGEST_BYTES), np.uint8), np.zeros((0, 3)))))
    if photos is None:
        log.warning(
            "The index in %s was built before photos' digests were kept: every photo is embedded again.", directory
        )
    spec = previous.manifest.vectors if vector_index is None else spec_for(len(catalog), vector_index)
    if thumbnails is None:
        thumbnails = (
            "link" if any(is_url(image) for image in previous.table.products.column("image").to_pylist()) else "copy"
        )
    given = build_options.pop("images", None)
    with nullcontext(given) if given else ImageReader(ImageFetcher(cache_root() / "images", refresh=True)) as reader:
        report = build_index(
            catalog,
            previous.query_encoder(encoder),
            directory,
            vector_index=spec,
            images=reader,
            embedded=embedded,
            thumbnails=thumbnails,
            photo_share=previous.manifest.photo_share,
            **build_options,
        )
    return UpdateReport(report, frozenset(previous.table.ids))


class LiveVersion(Embedded):
    """The photos of an index's live version, by row: their vectors its backend's, their thumbnails its
    files (hard-linked into the new version)."""

    def __init__(self, index: CatalogIndex, digests: np.ndarray, borders: np.ndarray):
        keys = {
            (product_id, d.tobytes()): row
            for row, (product_id, d) in enumerate(zip(index.table.ids, digests))
            if d.any()
        }
        super().__init__(keys, borders)
        self.index, self.digests = index, digests

    def vectors(self, keys: np.ndarray) -> np.ndarray:
        return self.index.vectors.sample(keys)

    def thumbnail(self, key: int, path: Path) -> None:
        image = self.index.products[key].image
        assert image is not None  # every product indexed has its photo's thumbnail (or link): index.builder.build
        link_or_copy(Path(image), path)

    def same_as(self, folder: Path, digests: list[bytes]) -> Path | None:
        held = self.index.manifest.checksums
        same = b"".join(digests) == self.digests.tobytes() and all(
            held.get(name) == file_sha256(folder / name) for name in TABLE_FILES
        )
        return self.index.path if same else None

    def adaptation(self, folder: Path) -> AdaptationInfo | None:
        info = self.index.manifest.adaptation
        if info:  # its vectors were mapped, and the new ones are by the same map (the encoder update_index gives)
            link_or_copy(self.index.path / info.file, folder / info.file)
        return info
