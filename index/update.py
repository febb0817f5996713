"""Bring an index up to date with its catalog: new products embedded, removed ones dropped, and a
product's photo embedded again only when its content changed (`index.image_reader.digest`).

An update is a build (`index.build.build_index`) that takes each unchanged photo's vector and thumbnail
over from the live version: it writes a new version beside it and makes it live atomically, so a killed
update leaves the live index as it was, and a running app picks the new version up (`search.reloading`).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.settings import cache_root

from .build import BuildReport, Embedded, build_index
from .catalog import Catalog
from .catalog_index import CatalogIndex
from .fetch import ImageFetcher
from .image_reader import ImageReader
from .products import DIGEST_BYTES, read_photos
from .vectors import spec_for

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
        return (f"Updated the index in {build.path.parent} in {build.seconds:.1f} s: {build.products} products "
                f"({self.added} added, {self.removed} removed); {build.reused} photos kept, "
                f"{build.products - build.reused} embedded{build.skipped_summary()}.")


def update_index(catalog: Catalog, encoder, directory: str | Path, *, vector_index: str | None = None,
                 **build_options) -> UpdateReport:
    """Update the index in `directory` to `catalog`, embedding with `encoder` (the one it was built with,
    checked) what it does not hold; web images are fetched anew, so that a photo changed at its link is
    seen. `vector_index`: as a build's, or None to keep the live version's backend. The other options
    are `build_index`'s."""
    previous = CatalogIndex.load(directory, encoder)
    photos = read_photos(previous.path, len(previous))
    embedded = _embedded(previous, photos)
    if photos is None:
        log.warning("The index in %s was built before photos' digests were kept: every photo is embedded again.",
                    directory)
    spec = previous.manifest.vectors if vector_index is None else spec_for(len(catalog), vector_index)
    images = build_options.pop("images", None)
    with nullcontext(images) if images else ImageReader(ImageFetcher(cache_root() / "images", refresh=True)) as reader:
        report = build_index(catalog, previous.query_encoder(encoder), directory, vector_index=spec, images=reader,
                             embedded=embedded, **build_options)
    return UpdateReport(report, frozenset(p.id for p in previous.products))


def _embedded(index: CatalogIndex, photos: tuple[np.ndarray, np.ndarray] | None) -> Embedded:
    """What `index` holds, by (product id, photo digest); nothing where it keeps no digests."""
    if photos is None:
        return Embedded(index, {}, np.zeros((0, DIGEST_BYTES), np.uint8), np.zeros((0, 3), np.float32))
    digests, borders = photos
    rows = {(product.id, d.tobytes()): product.row for product, d in zip(index.products, digests) if d.any()}
    return Embedded(index, rows, digests, borders)
