"""Embed every catalog image and write a new index version."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from core.boxes import centre_crop
from core.errors import LookalikeError
from core.settings import CatalogSettings
from core.types import Product
from index.catalog.catalog import Catalog, CatalogItem
from index.catalog.fetch import is_url
from index.catalog.image_reader import ImageReader, decode, digest
from index.store.kinds import KindRules, ProductKinds, load_kind_rules
from index.store.manifest import AdaptationInfo, Manifest, package_versions
from index.store.products import DIGEST_BYTES, write_photos, write_table
from index.store.versions import VersionWriter
from index.vectors.backend import VectorBackend, VectorSpec
from index.vectors.backends import new_backend, spec_for
from index.vectors.calibration import calibrate
from index.vectors.recall import commit_measured

from .embedded import Embedded
from .resume import Staged, staging_folder

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


def build_index(
    catalog: Catalog,
    encoder,
    out_dir: str | Path,
    batch_size: int = CatalogSettings.batch_size,
    progress: bool = True,
    rules: KindRules | None = None,
    images: ImageReader | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    vector_index: str | VectorSpec = CatalogSettings.vector_index,
    embedded: Embedded | None = None,
    thumbnails: str = CatalogSettings.thumbnails,
    photo_share: float = CatalogSettings.photo_share,
) -> BuildReport:
    """Embed `catalog` with `encoder` into a new version of `out_dir`, each product's kind worked out
    by `rules` (default: the built-in ones), its images read by `images` (default: web links fetched
    into the user cache); raises `BuildError` if nothing was readable. `progress`: a bar in the log;
    `on_progress` is told (catalog rows done, rows in all) after each batch. `vector_index`: how the
    vectors are searched (`index.vectors.backends.spec_for`), or the spec of a backend. The photos `embedded`
    holds are taken over from it, and nothing is written when the catalog is as it holds it; without it, the
    batches are kept as they are embedded and taken over by the next build should this one not finish
    (`index.builder.resume`). `thumbnails`: "link" keeps a web image's link as its thumbnail rather than a copy.
    `photo_share`: the middle share of each photo's sides that is embedded."""
    start = time.perf_counter()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    rules = rules or load_kind_rules(None)
    staged = Staged(staging_folder(out_dir, encoder, photo_share)) if embedded is None else None
    with VersionWriter(out_dir) as version, nullcontext(images) if images else ImageReader() as reader:
        spec = vector_index if isinstance(vector_index, VectorSpec) else spec_for(len(catalog), vector_index)
        vectors = new_backend(spec, encoder.dim)
        embedding = _Embedding(
            encoder, vectors, version.folder, reader, embedded or staged, thumbnails == "link", photo_share
        )
        embedding.staged = staged
        embedding.run(catalog, batch_size, progress, on_progress)
        products, skipped, reused = embedding.products, embedding.skipped, embedding.reused
        if not products:
            raise BuildError(
                f"None of the {len(catalog)} catalog images could be read "
                f"(first error: {skipped[0][2] if skipped else 'none'}); no index was written."
            )
        write_table(version.folder, products, ProductKinds.of_categories([p.category for p in products], rules))
        write_photos(version.folder, embedding.digests, embedding.borders)
        ids = frozenset(p.id for p in products)
        same = embedded.same_as(version.folder, embedding.digests) if embedded and reused == len(products) else None
        if same:
            return BuildReport(same, len(products), skipped, time.perf_counter() - start, reused, ids, changed=False)
        spec = commit_measured(vectors, version.folder)
        adaptation = embedded.adaptation(version.folder) if embedded else None
        path = version.commit(_manifest(catalog, encoder, embedding, vectors, spec, rules, adaptation, created))
    if staged:
        staged.discard()
    for product_id, _, detail in skipped:
        log.warning("skipped %s: %s", product_id, detail)
    return BuildReport(path, len(products), skipped, time.perf_counter() - start, reused, ids)


def _manifest(
    catalog: Catalog,
    encoder,
    embedding: _Embedding,
    vectors: VectorBackend,
    spec: VectorSpec,
    rules: KindRules,
    adaptation: AdaptationInfo | None,
    created: str,
) -> Manifest:
    products = embedding.products
    # Query crops are padded with this, so that they look like the catalog's photos: an RGB colour.
    red, green, blue = (round(float(v)) for v in np.median(embedding.borders, axis=0))
    return Manifest(
        encoder=encoder.describe(),
        probe=tuple(round(float(x), 6) for x in encoder.probe()),
        source=catalog.source,
        columns=catalog.columns,
        currency=catalog.currency,
        created=created,
        text_columns=catalog.text_columns,
        versions=package_versions(),
        skipped=len(embedding.skipped),
        products=len(products),
        calibration=calibrate(vectors, [p.id for p in products]),
        vectors=spec,
        kind_rules=rules.sha256,
        adaptation=adaptation,
        background=(red, green, blue),
        photo_share=embedding.photo_share,
    )


@dataclass
class _Readied:
    """A batch of catalog items readied for the model: the products kept (their images readable), the rows to
    embed and their images prepared for the model, and the rows taken over with their vectors."""

    items: list[CatalogItem]
    kept: list[Product] = field(default_factory=list)
    new_rows: list[int] = field(default_factory=list)
    prepared: object | None = None
    taken: list[int] = field(default_factory=list)
    old_vectors: np.ndarray | None = None
    # Of each row to embed, what the staged batches keep: ((product id, digest), border, thumbnail or None).
    staging: list[tuple[tuple[str, bytes], np.ndarray, Path | None]] = field(default_factory=list)


class _Embedding:
    """Every readable catalog image embedded into `vectors` and its thumbnail saved into `folder`/images: the
    products by row, the (product id, reason, detail) of each unreadable image, the photos' borders, their
    digests, and how many of them were taken over from `embedded`. With `links`, a photo that is a web link
    keeps the link as its thumbnail. The middle `photo_share` of each photo's sides is embedded.

    The model is the cost: while it embeds one batch, a thread readies the next (fetches, decodes,
    prepares it for the model, saves its thumbnails), so that the model never waits for them."""

    def __init__(
        self,
        encoder,
        vectors: VectorBackend,
        folder: Path,
        reader: ImageReader,
        embedded: Embedded | None,
        links: bool,
        photo_share: float,
    ):
        self.encoder, self.vectors, self.folder, self.reader = encoder, vectors, folder, reader
        self.embedded, self.links, self.photo_share = embedded, links, photo_share
        self.products: list[Product] = []
        self.skipped: list[tuple[str, str, str]] = []
        self.borders: list[np.ndarray] = []
        self.digests: list[bytes] = []
        self.reused = 0
        self.readied = 0  # products readied so far: the next one's row
        self.rows_kept: set[int] = set()  # catalog rows with a photo kept
        self.wanted = 0  # catalog rows the cap took: rows with no readable photo are replaced up to it
        self.spares: Iterator[list[CatalogItem]] = iter(())
        self.staged: Staged | None = None  # where each batch embedded is kept, for a build that must resume

    def run(self, catalog: Catalog, batch_size: int, progress: bool, on_progress) -> None:
        (self.folder / "images").mkdir()
        items = iter(catalog)
        self.wanted, self.spares = len(catalog), catalog.spares()
        bar = tqdm(total=len(catalog), desc="Indexing catalog", unit="product", disable=not progress)
        done = 0
        if on_progress:
            on_progress(0, len(catalog))
        with ThreadPoolExecutor(1) as ahead:
            coming = ahead.submit(self._ready_next, items, batch_size)
            while (readied := coming.result()).items:
                coming = ahead.submit(self._ready_next, items, batch_size)
                if readied.new_rows:
                    new = self.encoder.embed_prepared(readied.prepared)
                    self.vectors.add(new, np.array(readied.new_rows, np.int64))
                    if self.staged:
                        photos, borders, thumbnails = zip(*readied.staging)
                        self.staged.keep(list(photos), new, list(borders), list(thumbnails))
                if readied.taken:
                    assert readied.old_vectors is not None  # read with the rows taken over (_ready_next)
                    self.vectors.add(readied.old_vectors, np.array(readied.taken, np.int64))
                    self.reused += len(readied.taken)
                self.products += readied.kept
                # Rows of the catalog, whatever their photos; the rows replacing unreadable ones count as the last.
                # (Counted here: a disabled bar counts nothing, and `on_progress` is told without a bar too.)
                done, before = min(readied.items[-1].row + 1, len(catalog)), done
                bar.update(done - before)
                if on_progress:
                    on_progress(done, len(catalog))
        bar.close()

    def _replacements(self, batch_size: int) -> list[CatalogItem]:
        """Once the rows the cap took are read: the next rows it would take, as many as had no readable photo."""
        items: list[CatalogItem] = []
        rows = 0
        while rows < batch_size and len(self.rows_kept) + rows < self.wanted:
            row = next(self.spares, None)
            if row is None:
                break
            items += row
            rows += 1
        return items

    def _ready_next(self, items: Iterator[CatalogItem], batch_size: int) -> _Readied:
        readied = _Readied(list(islice(items, batch_size)) or self._replacements(batch_size))
        images: list = []
        old_rows: list[int] = []
        for item, value in zip(readied.items, self.reader.fetch([item.image for item in readied.items])):
            self._ready_one(item, value, readied, images, old_rows)
        self.readied += len(readied.kept)
        # Rows are taken over only from photos `embedded` holds.
        readied.old_vectors = (
            self.embedded.vectors(np.array(old_rows, np.int64)) if old_rows and self.embedded else None
        )
        readied.prepared = self.encoder.prepare([centre_crop(i, self.photo_share) for i in images]) if images else None
        return readied

    def _ready_one(self, item: CatalogItem, value, readied: _Readied, images: list, old_rows: list[int]) -> None:
        found = digest(value)
        old = self.embedded.keys.get((item.id, found)) if self.embedded and found else None
        image = decode(value) if old is None else None
        if isinstance(image, tuple):
            self.skipped.append((item.id, *image))
            return
        row = self.readied + len(readied.kept)
        linked = self.links and is_url(item.image)
        thumbnail = f"images/{row}.jpg"
        product = Product(
            row=row,
            id=item.id,
            name=item.name,
            category=item.category,
            price=item.price,
            link=item.link,
            image=item.image if linked else thumbnail,
            popularity=item.popularity,
            attributes=item.attributes,
        )
        readied.kept.append(product)
        self.rows_kept.add(item.row)
        self.digests.append(found or bytes(DIGEST_BYTES))
        if old is None:
            readied.new_rows.append(row)
            images.append(image)
            self.borders.append(border_colour(image))
            if not linked:
                save_thumbnail(image, self.folder / thumbnail)
            readied.staging.append(
                ((item.id, found or bytes(DIGEST_BYTES)), self.borders[-1], None if linked else self.folder / thumbnail)
            )
        else:
            assert self.embedded is not None  # `old` is one of its photos
            readied.taken.append(row)
            old_rows.append(old)
            self.borders.append(self.embedded.borders[old])
            if not linked:
                self.embedded.thumbnail(old, self.folder / thumbnail)


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
