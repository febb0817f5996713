"""Embed every catalog image and write a new index version."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from core.errors import LookalikeError
from core.images import ImageError, load_image
from core.settings import Settings
from core.types import Product

from .catalog import Catalog
from .manifest import Manifest, package_versions
from .store import IndexWriter

log = logging.getLogger(__name__)
THUMBNAIL_SIZE = 384  # the longest side of the product images the app shows


class BuildError(LookalikeError):
    """The build could not produce an index; any earlier index is untouched."""


@dataclass
class BuildReport:
    path: Path
    products: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (product id, reason)
    seconds: float = 0.0

    def summary(self) -> str:
        text = f"Indexed {self.products} products into {self.path} in {self.seconds:.1f} s"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} unreadable images (first: {self.skipped[0][0]}: {self.skipped[0][1]})"
        return text + "."


def build_index(catalog: Catalog, encoder, out_dir: str | Path, batch_size: int = Settings.batch_size,
                progress: bool = True) -> BuildReport:
    """Embed `catalog` with `encoder` into a new version of `out_dir`; raises `BuildError` if nothing was readable."""
    start = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    skipped: list[tuple[str, str]] = []
    borders: list[np.ndarray] = []
    with IndexWriter(out_dir, encoder.dim) as writer:
        items = iter(catalog)
        bar = tqdm(total=len(catalog), desc="Indexing catalog", unit="product", disable=not progress)
        while batch := list(islice(items, batch_size)):
            products, images = [], []
            for item in batch:
                try:
                    images.append(load_image(item.image))
                except ImageError as exc:
                    skipped.append((item.id, str(exc)))
                    continue
                borders.append(_border_colour(images[-1]))
                products.append(Product(row=item.row, id=item.id, name=item.name, category=item.category,
                                        price=item.price, link=item.link, popularity=item.popularity,
                                        attributes=item.attributes))
            if images:
                writer.add(encoder.embed_images(images), products, (_thumbnail(im) for im in images))
            bar.update(batch[-1].row + 1 - bar.n)  # rows of the catalog, whatever their photos
        bar.close()
        if not writer.products:
            raise BuildError(f"None of the {len(catalog)} catalog images could be read "
                             f"(first error: {skipped[0][1] if skipped else 'none'}); no index was written.")
        path = writer.commit(Manifest(
            encoder=encoder.describe(), probe=tuple(round(float(x), 6) for x in encoder.probe()),
            source=catalog.source, columns=catalog.columns, currency=catalog.currency, created=created,
            text_columns=catalog.text_columns,
            versions=package_versions(), skipped=len(skipped),
            # Query crops are padded with this, so that they look like the catalog's photos.
            background=tuple(int(round(v)) for v in np.median(borders, axis=0))))
    for product_id, reason in skipped:
        log.warning("skipped %s: %s", product_id, reason)
    return BuildReport(path, len(writer.products), skipped, time.perf_counter() - start)


def _border_colour(image) -> np.ndarray:
    """The median colour of the outermost pixels of a small copy of `image`: its background."""
    small = np.asarray(image.resize((32, 32)), dtype=np.float64)
    border = np.concatenate([small[0], small[-1], small[1:-1, 0], small[1:-1, -1]])
    return np.median(border, axis=0)


def _thumbnail(image):
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    return thumb

