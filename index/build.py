"""Embed every catalog image and write a new index version."""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from core.errors import LookalikeError
from core.settings import CatalogSettings
from core.types import Product

from .calibration import calibrate
from .catalog import Catalog
from .image_reader import ImageReader
from .kinds import KindRules, ProductKinds, load_kind_rules
from .manifest import Manifest, package_versions
from .products import write_table
from .store import VersionWriter
from .vectors import VectorBackend, commit_measured, new_backend, spec_for

log = logging.getLogger(__name__)
THUMBNAIL_SIZE = 384  # the longest side of the product images the app shows


class BuildError(LookalikeError):
    """The build could not produce an index; any earlier index is untouched."""


@dataclass
class BuildReport:
    path: Path
    products: int
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (product id, reason, detail)
    seconds: float = 0.0

    @property
    def reasons(self) -> Counter:
        """How many images were skipped for each reason ("HTTP 404", "timed out", "unreadable image", ...)."""
        return Counter(reason for _, reason, _ in self.skipped)

    def summary(self) -> str:
        text = f"Indexed {self.products} products into {self.path} in {self.seconds:.1f} s"
        if self.skipped:
            counts = ", ".join(f"{n} {reason}" for reason, n in self.reasons.most_common())
            first = self.skipped[0]
            text += f"; skipped {len(self.skipped)} images ({counts}; first: {first[0]}: {first[2]})"
        return text + "."


def build_index(catalog: Catalog, encoder, out_dir: str | Path, batch_size: int = CatalogSettings.batch_size,
                progress: bool = True, rules: KindRules | None = None, images: ImageReader | None = None,
                on_progress: Callable[[int, int], None] | None = None,
                vector_index: str = CatalogSettings.vector_index) -> BuildReport:
    """Embed `catalog` with `encoder` into a new version of `out_dir`, each product's kind worked out
    by `rules` (default: the built-in ones), its images read by `images` (default: web links fetched
    into the user cache); raises `BuildError` if nothing was readable. `progress`: a bar in the log;
    `on_progress` is told (catalog rows done, rows in all) after each batch. `vector_index`: how the
    vectors are searched (`index.vectors.spec_for`)."""
    start = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rules = rules or load_kind_rules(None)
    with VersionWriter(out_dir) as version, nullcontext(images) if images else ImageReader() as reader:
        vectors = new_backend(spec_for(len(catalog), vector_index), encoder.dim)
        products, skipped, borders = _embed(catalog, encoder, vectors, version.folder, batch_size, progress, reader,
                                            on_progress)
        if not products:
            raise BuildError(f"None of the {len(catalog)} catalog images could be read "
                             f"(first error: {skipped[0][2] if skipped else 'none'}); no index was written.")
        write_table(version.folder, products, ProductKinds.of_categories([p.category for p in products], rules))
        spec = commit_measured(vectors, version.folder)
        path = version.commit(Manifest(
            encoder=encoder.describe(), probe=tuple(round(float(x), 6) for x in encoder.probe()),
            source=catalog.source, columns=catalog.columns, currency=catalog.currency, created=created,
            text_columns=catalog.text_columns, versions=package_versions(), skipped=len(skipped),
            products=len(products), calibration=calibrate(vectors, [p.id for p in products]),
            vectors=spec, kind_rules=rules.sha256,
            # Query crops are padded with this, so that they look like the catalog's photos.
            background=tuple(int(round(v)) for v in np.median(borders, axis=0))))
    for product_id, _, detail in skipped:
        log.warning("skipped %s: %s", product_id, detail)
    return BuildReport(path, len(products), skipped, time.perf_counter() - start)


def _embed(catalog: Catalog, encoder, vectors: VectorBackend, folder: Path, batch_size: int, progress: bool,
           reader: ImageReader, on_progress):
    """Every readable catalog image embedded into `vectors` and its thumbnail saved into `folder`/images:
    the products by row, the (product id, reason, detail) of each unreadable image, the photos' borders.

    The model is the cost: while it embeds one batch, a thread readies the next (fetches, decodes,
    prepares it for the model, saves its thumbnails), so that the model never waits for them.
    """
    products: list[Product] = []
    skipped: list[tuple[str, str, str]] = []
    borders: list[np.ndarray] = []
    (folder / "images").mkdir()
    items = iter(catalog)
    bar = tqdm(total=len(catalog), desc="Indexing catalog", unit="product", disable=not progress)
    if on_progress:
        on_progress(0, len(catalog))
    readied = 0  # products readied so far: the next one's row

    def ready_next():
        nonlocal readied
        batch = list(islice(items, batch_size))
        kept, images = [], []
        for item, image in zip(batch, reader.read([item.image for item in batch])):
            if isinstance(image, tuple):
                skipped.append((item.id, *image))
                continue
            row = readied + len(kept)
            kept.append(Product(row=row, id=item.id, name=item.name, category=item.category, price=item.price,
                                link=item.link, image=f"images/{row}.jpg", popularity=item.popularity,
                                attributes=item.attributes))
            images.append(image)
            borders.append(_border_colour(image))
            _thumbnail(image).save(folder / kept[-1].image, quality=90)
        readied += len(kept)
        return batch, kept, encoder.prepare(images) if images else None

    with ThreadPoolExecutor(1) as ahead:
        coming = ahead.submit(ready_next)
        while (readied_batch := coming.result())[0]:
            coming = ahead.submit(ready_next)
            batch, kept, prepared = readied_batch
            if kept:
                vectors.add(encoder.embed_prepared(prepared), np.array([p.row for p in kept], np.int64))
                products += kept
            bar.update(batch[-1].row + 1 - bar.n)  # rows of the catalog, whatever their photos
            if on_progress:
                on_progress(bar.n, len(catalog))
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

