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
from core.settings import CatalogSettings
from core.types import Product

from .calibration import calibrate
from .catalog import Catalog
from .kinds import KindRules, ProductKinds, load_kind_rules
from .manifest import Manifest, VectorSpec, package_versions
from .products import write_table
from .store import VersionWriter
from .vectors import VectorBackend, new_backend

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


def build_index(catalog: Catalog, encoder, out_dir: str | Path, batch_size: int = CatalogSettings.batch_size,
                progress: bool = True, rules: KindRules | None = None) -> BuildReport:
    """Embed `catalog` with `encoder` into a new version of `out_dir`, each product's kind worked out
    by `rules` (default: the built-in ones); raises `BuildError` if nothing was readable."""
    start = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rules = rules or load_kind_rules(None)
    with VersionWriter(out_dir) as version:
        vectors = new_backend(VectorSpec(), encoder.dim)
        products, skipped, borders = _embed(catalog, encoder, vectors, version.folder, batch_size, progress)
        if not products:
            raise BuildError(f"None of the {len(catalog)} catalog images could be read "
                             f"(first error: {skipped[0][1] if skipped else 'none'}); no index was written.")
        write_table(version.folder, products, ProductKinds.of_categories([p.category for p in products], rules))
        spec = VectorSpec(vectors.kind, vectors.commit(version.folder))
        path = version.commit(Manifest(
            encoder=encoder.describe(), probe=tuple(round(float(x), 6) for x in encoder.probe()),
            source=catalog.source, columns=catalog.columns, currency=catalog.currency, created=created,
            text_columns=catalog.text_columns, versions=package_versions(), skipped=len(skipped),
            products=len(products), calibration=calibrate(vectors, [p.id for p in products]),
            vectors=spec, kind_rules=rules.sha256,
            # Query crops are padded with this, so that they look like the catalog's photos.
            background=tuple(int(round(v)) for v in np.median(borders, axis=0))))
    for product_id, reason in skipped:
        log.warning("skipped %s: %s", product_id, reason)
    return BuildReport(path, len(products), skipped, time.perf_counter() - start)


def _embed(catalog: Catalog, encoder, vectors: VectorBackend, folder: Path, batch_size: int, progress: bool):
    """Every readable catalog image embedded into `vectors` and its thumbnail saved into `folder`/images,
    in batches: the products by row, the (product id, reason) of each unreadable image, the photos' borders."""
    products: list[Product] = []
    skipped: list[tuple[str, str]] = []
    borders: list[np.ndarray] = []
    (folder / "images").mkdir()
    items = iter(catalog)
    bar = tqdm(total=len(catalog), desc="Indexing catalog", unit="product", disable=not progress)
    while batch := list(islice(items, batch_size)):
        kept, images = [], []
        for item in batch:
            try:
                images.append(load_image(item.image))
            except ImageError as exc:
                skipped.append((item.id, str(exc)))
                continue
            borders.append(_border_colour(images[-1]))
            row = len(products) + len(kept)
            kept.append(Product(row=row, id=item.id, name=item.name, category=item.category, price=item.price,
                                link=item.link, image=f"images/{row}.jpg", popularity=item.popularity,
                                attributes=item.attributes))
        if images:
            vectors.add(encoder.embed_images(images), np.array([p.row for p in kept], np.int64))
            for product, image in zip(kept, images):
                _thumbnail(image).save(folder / product.image, quality=90)
            products += kept
        bar.update(batch[-1].row + 1 - bar.n)  # rows of the catalog, whatever their photos
    bar.close()
    return products, skipped, borders


def _border_colour(image) -> np.ndarray:
    """The median colour of the outermost pixels of a small copy of `image`: its background."""
    small = np.asarray(image.resize((32, 32)), dtype=np.float64)
    border = np.concatenate([small[0], small[-1], small[1:-1, 0], small[1:-1, -1]])
    return np.median(border, axis=0)


def _thumbnail(image):
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    return thumb

