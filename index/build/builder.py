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

from index.vectors.calibration import calibrate
from index.catalog.catalog import Catalog
from index.catalog.fetch import is_url
from index.catalog.image_reader import ImageReader, decode, digest
from index.store.kinds import KindRules, ProductKinds, load_kind_rules
from index.store.manifest import AdaptationInfo, Manifest, package_versions
from index.vectors.backend import VectorSpec
from index.store.products import DIGEST_BYTES, write_photos, write_table
from index.store.versions import VersionWriter
from index.vectors.backend import VectorBackend
from index.vectors.recall import commit_measured
from index.vectors.backends import new_backend, spec_for

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
    reused: int = 0  # photos whose vector and thumbnail were taken over from the index before (an update)
    ids: frozenset[str] = field(default=frozenset(), repr=False)  # the products indexed
    changed: bool = True  # False: the catalog was as indexed already, and no version was written

    @property
    def reasons(self) -> Counter:
        """How many images were skipped for each reason ("HTTP 404", "timed out", "unreadable image", ...)."""
        return Counter(reason for _, reason, _ in self.skipped)

    def summary(self) -> str:
        text = f"Indexed {self.products} products into {self.path} in {self.seconds:.1f} s"
        return text + self.skipped_summary() + "."

    def skipped_summary(self) -> str:
        if not self.skipped:
            return ""
        counts = ", ".join(f"{n} {reason}" for reason, n in self.reasons.most_common())
        first = self.skipped[0]
        return f"; skipped {len(self.skipped)} images ({counts}; first: {first[0]}: {first[2]})"


class Embedded:
    """Photos embedded already, known by (product id, photo digest): a build takes their vectors, border
    colours and thumbnails over rather than making them again. From an index's live version, for an update
    (`index.update.LiveVersion`), or from embeddings made elsewhere."""

    def __init__(self, keys: dict[tuple[str, bytes], int], borders: np.ndarray):
        self.keys = keys  # (product id, photo digest) -> its key here
        self.borders = borders  # (keys, 3): each photo's border colour, by key

    def vectors(self, keys: np.ndarray) -> np.ndarray:
        """The (len(keys), D) vectors of `keys`."""
        raise NotImplementedError

    def thumbnail(self, key: int, path: Path) -> None:
        """Write the thumbnail of `key` at `path`."""
        raise NotImplementedError

    def same_as(self, folder: Path, digests: list[bytes]) -> Path | None:
        """The version holding just what was written into `folder` with these photos, if there is one:
        then nothing new is written."""
        return None

    def adaptation(self, folder: Path) -> AdaptationInfo | None:
        """The adaptation the vectors went through (`index.adapted`), its file written into `folder`."""
        return None


def build_index(catalog: Catalog, encoder, out_dir: str | Path, batch_size: int = CatalogSettings.batch_size,
                progress: bool = True, rules: KindRules | None = None, images: ImageReader | None = None,
                on_progress: Callable[[int, int], None] | None = None,
                vector_index: str | VectorSpec = CatalogSettings.vector_index,
                embedded: Embedded | None = None, thumbnails: str = CatalogSettings.thumbnails) -> BuildReport:
    """Embed `catalog` with `encoder` into a new version of `out_dir`, each product's kind worked out
    by `rules` (default: the built-in ones), its images read by `images` (default: web links fetched
    into the user cache); raises `BuildError` if nothing was readable. `progress`: a bar in the log;
    `on_progress` is told (catalog rows done, rows in all) after each batch. `vector_index`: how the
    vectors are searched (`index.vectors.spec_for`), or the spec of a backend. The photos `embedded`
    holds are taken over from it, and nothing is written when the catalog is as it holds it. `thumbnails`:
    "link" keeps a web image's link as its thumbnail rather than a copy."""
    start = time.perf_counter()
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rules = rules or load_kind_rules(None)
    with VersionWriter(out_dir) as version, nullcontext(images) if images else ImageReader() as reader:
        spec = vector_index if isinstance(vector_index, VectorSpec) else spec_for(len(catalog), vector_index)
        vectors = new_backend(spec, encoder.dim)
        products, skipped, borders, digests, reused = _embed(catalog, encoder, vectors, version.folder, batch_size,
                                                             progress, reader, on_progress, embedded,
                                                             thumbnails == "link")
        if not products:
            raise BuildError(f"None of the {len(catalog)} catalog images could be read "
                             f"(first error: {skipped[0][2] if skipped else 'none'}); no index was written.")
        write_table(version.folder, products, ProductKinds.of_categories([p.category for p in products], rules))
        write_photos(version.folder, digests, borders)
        ids = frozenset(p.id for p in products)
        same = embedded.same_as(version.folder, digests) if embedded and reused == len(products) else None
        if same:
            return BuildReport(same, len(products), skipped, time.perf_counter() - start, reused, ids, changed=False)
        spec = commit_measured(vectors, version.folder)
        adaptation = embedded.adaptation(version.folder) if embedded else None
        path = version.commit(Manifest(
            encoder=encoder.describe(), probe=tuple(round(float(x), 6) for x in encoder.probe()),
            source=catalog.source, columns=catalog.columns, currency=catalog.currency, created=created,
            text_columns=catalog.text_columns, versions=package_versions(), skipped=len(skipped),
            products=len(products), calibration=calibrate(vectors, [p.id for p in products]),
            vectors=spec, kind_rules=rules.sha256, adaptation=adaptation,
            # Query crops are padded with this, so that they look like the catalog's photos.
            background=tuple(int(round(v)) for v in np.median(borders, axis=0))))
    for product_id, _, detail in skipped:
        log.warning("skipped %s: %s", product_id, detail)
    return BuildReport(path, len(products), skipped, time.perf_counter() - start, reused, ids)


def _embed(catalog: Catalog, encoder, vectors: VectorBackend, folder: Path, batch_size: int, progress: bool,
           reader: ImageReader, on_progress, embedded: Embedded | None, links: bool):
    """Every readable catalog image embedded into `vectors` and its thumbnail saved into `folder`/images:
    the products by row, the (product id, reason, detail) of each unreadable image, the photos' borders,
    their digests, and how many of them were taken over from `embedded`. With `links`, a photo that is a
    web link keeps the link as its thumbnail.

    The model is the cost: while it embeds one batch, a thread readies the next (fetches, decodes,
    prepares it for the model, saves its thumbnails), so that the model never waits for them.
    """
    products: list[Product] = []
    skipped: list[tuple[str, str, str]] = []
    borders: list[np.ndarray] = []
    digests: list[bytes] = []
    reused = 0
    (folder / "images").mkdir()
    items = iter(catalog)
    bar = tqdm(total=len(catalog), desc="Indexing catalog", unit="product", disable=not progress)
    if on_progress:
        on_progress(0, len(catalog))
    readied = 0  # products readied so far: the next one's row

    def ready_next():
        nonlocal readied
        batch = list(islice(items, batch_size))
        kept, images, new_rows, taken, old_rows = [], [], [], [], []
        for item, value in zip(batch, reader.fetch([item.image for item in batch])):
            found = digest(value)
            old = embedded.keys.get((item.id, found)) if embedded and found else None
            image = decode(value) if old is None else None
            if isinstance(image, tuple):
                skipped.append((item.id, *image))
                continue
            row = readied + len(kept)
            linked = links and is_url(item.image)
            kept.append(Product(row=row, id=item.id, name=item.name, category=item.category, price=item.price,
                                link=item.link, image=item.image if linked else f"images/{row}.jpg",
                                popularity=item.popularity, attributes=item.attributes))
            digests.append(found or bytes(DIGEST_BYTES))
            if old is None:
                new_rows.append(row)
                images.append(image)
                borders.append(border_colour(image))
                if not linked:
                    save_thumbnail(image, folder / kept[-1].image)
            else:
                taken.append(row)
                old_rows.append(old)
                borders.append(embedded.borders[old])
                if not linked:
                    embedded.thumbnail(old, folder / kept[-1].image)
        readied += len(kept)
        old_vectors = embedded.vectors(np.array(old_rows, np.int64)) if old_rows else None
        return batch, kept, new_rows, encoder.prepare(images) if images else None, taken, old_vectors

    with ThreadPoolExecutor(1) as ahead:
        coming = ahead.submit(ready_next)
        while (readied_batch := coming.result())[0]:
            coming = ahead.submit(ready_next)
            batch, kept, new_rows, prepared, taken, old_vectors = readied_batch
            if new_rows:
                vectors.add(encoder.embed_prepared(prepared), np.array(new_rows, np.int64))
            if taken:
                vectors.add(old_vectors, np.array(taken, np.int64))
                reused += len(taken)
            products += kept
            bar.update(batch[-1].row + 1 - bar.n)  # rows of the catalog, whatever their photos
            if on_progress:
                on_progress(bar.n, len(catalog))
    bar.close()
    return products, skipped, borders, digests, reused


def border_colour(image) -> np.ndarray:
    """The median colour of the outermost pixels of a small copy of `image`: its background."""
    small = np.asarray(image.resize((32, 32)), dtype=np.float64)
    border = np.concatenate([small[0], small[-1], small[1:-1, 0], small[1:-1, -1]])
    return np.median(border, axis=0)


def save_thumbnail(image, target) -> None:
    """The thumbnail the app shows of a catalog photo, as a JPEG into `target` (a path or a file)."""
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    thumb.save(target, "JPEG", quality=90)
