"""A loaded catalog index: its product table, its vector backend, its manifest, and the search over them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.types import Match, Product, Where
from index.store.adaptation import load_adaptation
from index.store.close_ups import CloseUps, load_close_ups
from index.store.hubness import load_hubness
from index.store.manifest import Manifest
from index.store.products import EARLIER_FILES, ProductTable
from index.store.products import FILES as TABLE_FILES
from index.store.versions import open_version, verify
from index.vectors.backend import VectorBackend
from index.vectors.backends import backend_files, load_backend
from index.vectors.faiss import FaissFlatIP
from models.adaptation import Adaptation, AdaptedEncoder, IndexEncoder
from models.tuning import BlockTuning, TunedEncoder

from .errors import IndexCorruptError, IndexMismatchError

log = logging.getLogger(__name__)


class CatalogIndex:
    """One row per catalog photo, several rows for a product with several photos."""

    def __init__(
        self,
        table: ProductTable,
        vectors: VectorBackend,
        manifest: Manifest,
        path: Path,
        adaptation: Adaptation | BlockTuning | None = None,
        hubness: np.ndarray | None = None,
        close_ups: CloseUps | None = None,
    ):
        self.table, self.vectors, self.manifest, self.path = table, vectors, manifest, path
        # What the vectors were mapped by, or embedded with, and queries must be (index.builder.adapted).
        self.adaptation = adaptation
        self.hubness = hubness  # (rows,) float32: each photo's nearness to shoppers' photos (index.store.hubness)
        # Each photo's middle (index.store.close_ups), which a photo of one product is matched against, and any
        # other query besides the whole: searched exactly, a second search of a few ms beside the embedding.
        self.close_up_hubness = close_ups.hubness if close_ups else None
        self.close_ups: FaissFlatIP | None = None
        if close_ups is not None:
            self.close_ups = FaissFlatIP(FaissFlatIP.new(close_ups.vectors.shape[1]).index, table.rows_where)
            self.close_ups.add(close_ups.vectors, np.arange(len(close_ups.vectors)))
        self.damage: str | None = None  # what a check after the load found damaged: then nothing is searched
        self.checked = threading.Event()  # set once every file of the version is checked
        self.checked.set()

    def check_later(self, checksums: dict[str, str]) -> None:
        """Check these files of the version on a thread of its own, refusing every search once one is
        found damaged."""

        def check():
            try:
                verify(self.path, checksums)
            except IndexCorruptError as exc:
                self.damage = str(exc)
                log.error("%s", exc)
            finally:
                self.checked.set()

        self.checked.clear()
        threading.Thread(target=check, name="index-check", daemon=True).start()

    @property
    def products(self) -> Sequence[Product]:
        return self.table.products

    @property
    def thumbnails(self) -> Path:
        """The folder of the products' thumbnails, the only files of the index a page may show."""
        return self.path / "images"

    def __len__(self) -> int:
        return len(self.table)

    @property
    def dim(self) -> int:
        return self.vectors.dim

    def search(
        self, queries: np.ndarray, k: int, where: Where | None = None, close_up: bool = False
    ) -> list[list[Match]]:
        """Top-`k` products for each row of `queries` (N, D), best first, among the rows `where` keeps;
        each product once, at its best photo's similarity. Where the index holds close-ups, each photo counts at
        the better of its whole's and its middle's similarity, or, with `close_up` (`queries` are photos of one
        product), at its middle's alone."""
        if self.damage:
            raise IndexCorruptError(self.damage)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise IndexMismatchError(f"Queries of shape {queries.shape} do not fit an index of dimension {self.dim}.")
        available = self.table.count(where)
        if not available:
            return [[] for _ in queries]
        per_product = self.table.photos_per_product
        depth = k if per_product == 1 else int(k * per_product * 2)
        if self.close_ups is None:
            sets = [self.vectors]
        else:
            sets = [self.close_ups] if close_up else [self.vectors, self.close_ups]
        while True:  # deeper until every query has k distinct products, or every photo was looked at
            scores, rows = _nearest(sets, queries, min(depth, available), where)
            found = [self._distinct(row_scores, row_ids, k) for row_scores, row_ids in zip(scores, rows)]
            if depth >= available or all(len(matches) == k for matches in found):
                return found
            depth *= 4

    def _distinct(self, scores: np.ndarray, rows: np.ndarray, k: int) -> list[Match]:
        ids, matches, seen = self.table.ids, [], set()
        for s, i in zip(scores, rows):
            if i < 0 or ids[i] in seen:
                continue
            seen.add(ids[i])
            matches.append(Match(self.table.products[i], float(s)))
            if len(matches) == k:
                break
        return matches

    def query_encoder(self, encoder):
        """`encoder` (the one the index was built with) as the index must be searched with it: its
        embeddings mapped by the index's adaptation, or made with its tuned block, where it has one."""
        if isinstance(encoder, IndexEncoder):
            if encoder.adaptation is not self.adaptation:
                raise IndexMismatchError(f"The encoder is adapted to another index than {self.path}.")
            return encoder
        if isinstance(self.adaptation, BlockTuning):
            return TunedEncoder(encoder, self.adaptation)
        return AdaptedEncoder(encoder, self.adaptation) if self.adaptation is not None else encoder

    def check_encoder(self, encoder) -> None:
        """Refuse an encoder other than the one the index was built with."""
        self.manifest.check_encoder(encoder, self.path)

    @classmethod
    def load(cls, directory: str | Path, encoder=None) -> CatalogIndex:
        """The live version of the index in `directory`, every file checked; refused (CatalogIndexError)
        when damaged, or built with another encoder than `encoder` where one is given."""
        version, manifest, later = open_version(directory, _required)
        table = ProductTable.load(version)
        vectors = load_backend(manifest.vectors, version, table.rows_where)
        if not (len(table) == len(vectors) == manifest.products):
            raise IndexCorruptError(
                f"{version} is inconsistent: {len(table)} products, {len(vectors)} "
                f"vectors, manifest says {manifest.products}. Rebuild the index."
            )
        adaptation, hubness = load_adaptation(version, manifest), load_hubness(version, manifest)
        index = cls(table, vectors, manifest, version, adaptation, hubness, load_close_ups(version, manifest))
        if encoder is not None:
            index.check_encoder(encoder)
        if later:
            index.check_later(later)
        return index


def _nearest(
    sets: list[VectorBackend], queries: np.ndarray, k: int, where: Where | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's `k` nearest rows in each of `sets`, best first across them: (N, k x sets) similarities and
    rows (a row may come twice)."""
    if len(sets) == 1:
        return sets[0].search(queries, k, where)
    found = [vectors.search(queries, k, where) for vectors in sets]
    scores, rows = np.hstack([s for s, _ in found]), np.hstack([r for _, r in found])
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)


def _required(manifest: Manifest) -> tuple[str, ...]:
    """The files a version with `manifest` must hold."""
    adaptation = (manifest.adaptation.file,) if manifest.adaptation else ()
    hubness = (manifest.hubness.file,) if manifest.hubness else ()
    close_ups = (manifest.close_ups.file,) if manifest.close_ups else ()
    table = TABLE_FILES if manifest.format >= 6 else EARLIER_FILES
    return (*table, *backend_files(manifest.vectors), *adaptation, *hubness, *close_ups)
