"""Measuring the catalog photos' hubness (`index.store.hubness`): how near each one lies to shoppers' photos
of any product, which the engine lowers its similarity by (`settings.hub_weight`).

A photo near many shoppers' photos of other products (a plain white product, a photo much like a room)
is a hub: it crowds the top of every list. Views in rooms of a sample of the catalog's photos
(`index.views.rooms`) stand for shoppers' photos; a photo's hubness is its mean similarity to its nearest of
them, its own views left out (cross-domain similarity local scaling, CSLS). Measured on the index's own
vectors, adapted ones too, after a build (`load_hubbed`) or by `python -m train hubs`, and written
as a build writes: the live version's files as they are and the hubness beside them, a new version made
live atomically.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.errors import LookalikeError
from core.settings import SearchSettings
from index.catalog.fetch import is_url
from index.catalog_index import CatalogIndex
from index.errors import IndexMismatchError
from index.store.close_ups import CloseUps, save_close_ups
from index.store.hubness import save_hubness
from index.store.manifest import CloseUpInfo, HubnessInfo
from index.store.versions import MANIFEST, VersionWriter, link_or_copy
from index.vectors.faiss import FaissFlatIP
from index.views.embedded import embed_photos, embed_views

log = logging.getLogger(__name__)

VIEWS = 1000  # chosen on the tune half of the dev scenes (docs/quality.md): 500 measured worse, 2,000 no better
NEIGHBOURS_PER_VIEW = 1 / 40  # each photo's hubness is its mean similarity to this share of the views, its nearest
ROWS_AT_ONCE = 4096  # photos compared with every view at once: 16 MB of similarities with 1,000 views


def hubness(photos: np.ndarray, views: np.ndarray, owners: np.ndarray, neighbours: int) -> np.ndarray:
    """Each of `photos` (N, D)' mean similarity to its `neighbours` nearest `views` (M, D), the views of itself
    (`owners` (M,): the row of `photos` each view shows) left out: (N,) float32."""
    neighbours = max(1, min(neighbours, len(views) - 1))
    out = np.empty(len(photos), np.float32)
    for start in range(0, len(photos), ROWS_AT_ONCE):
        similarity = photos[start : start + ROWS_AT_ONCE] @ views.T
        own = (owners >= start) & (owners < start + len(similarity))
        similarity[owners[own] - start, np.flatnonzero(own)] = -np.inf
        nearest = np.partition(similarity, -neighbours, axis=1)[:, -neighbours:]
        counted = np.isfinite(nearest)  # fewer where a photo has more views of its own than the rest hold
        out[start : start + len(similarity)] = np.where(counted, nearest, 0).sum(axis=1) / np.maximum(
            counted.sum(axis=1), 1
        )
    return out


def measure_hubs(
    index: CatalogIndex,
    encoder,
    *,
    views: int = VIEWS,
    padding: float = SearchSettings.crop_padding,
    out_dir: str | Path | None = None,
    progress: bool = True,
    seed: int = 0,
    close_up_share: float = 1.0,
) -> tuple[Path, HubnessInfo, float]:
    """Measure the hubness of every photo of `index` (built with `encoder`) on `views` views in rooms of its
    photos, and make the index with it the live version of `out_dir` (default: the index's own directory);
    the seconds it took. Under 1, `close_up_share` embeds each photo's middle too (`index.store.close_ups`)
    and measures its hubness on the same views."""
    index.check_encoder(encoder)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(index), min(views, len(index)), replace=False))
    per_photo = -(-views // len(rows))  # a catalog of fewer photos than `views` gives several views of each
    queries = index.query_encoder(encoder)  # the close-ups are matched with the queries' own embeddings
    vectors, owners = embed_views(index, queries, per_photo, padding, progress, seed, rows)
    neighbours = max(1, round(len(vectors) * NEIGHBOURS_PER_VIEW))
    photos = index.vectors.sample(np.arange(len(index)))
    info = HubnessInfo(len(vectors), neighbours, datetime.now(UTC).isoformat(timespec="seconds"))
    close_ups = None
    if framed(index, close_up_share) < 1:
        middles = embed_photos(index, queries, close_up_share, progress)
        close_ups = CloseUps(middles, hubness(middles, vectors, owners, neighbours)), CloseUpInfo(close_up_share)
    path = write_hubness(index, hubness(photos, vectors, owners, neighbours), info, out_dir, close_ups)
    return path, info, time.perf_counter() - start


def load_hubbed(
    directory: str | Path, encoder, views: int, progress: bool = True, close_up_share: float = 1.0
) -> CatalogIndex:
    """The live index of `directory` (built with `encoder`), its hubness and close-ups measured first where
    it needs them (`measure_missing`)."""
    index = CatalogIndex.load(directory, encoder)
    measured = measure_missing(index, encoder, views, progress, close_up_share)
    return CatalogIndex.load(directory, encoder) if measured else index


def measure_missing(
    index: CatalogIndex, encoder, views: int, progress: bool = True, close_up_share: float = 1.0
) -> Path | None:
    """The new live version of `index` (built with `encoder`) holding its hubness, measured where it has none
    (`settings.catalog.hub_views`) on one view each of `views` of its photos at most, so that a small catalog
    pays in proportion, with its close-ups where `close_up_share` differs from the index's (under 1: the
    photos' middles embedded; 1: none); None where nothing was measured. An adapted index keeps none
    (`train adapt` drops them on purpose), nor one of a single photo, or one kept as web links (no thumbnails
    to make views of); one whose measuring fails is served without (a warning)."""
    views = min(views, len(index))
    if index.manifest.adaptation is not None or views < 2 or _linked(index):
        return None
    held = index.manifest.close_ups.share if index.manifest.close_ups else 1.0
    if index.hubness is not None and held == framed(index, close_up_share):
        return None
    log.info("Measuring the hubness of %d catalog photos on %d views in rooms (done once).", len(index), views)
    try:
        path, info, seconds = measure_hubs(
            index, encoder, views=views, progress=progress, close_up_share=close_up_share
        )
    except (LookalikeError, OSError) as exc:  # the index is whole without it: served, not refused
        log.warning("The hubness of %s could not be measured (%s); it is served without.", index.path, exc)
        return None
    log.info("Measured the hubness on %d views in %.0f s, into %s.", info.views, seconds, path)
    return path


def framed(index: CatalogIndex, close_up_share: float) -> float:
    """The share of each photo's sides `index` keeps close-ups of: `close_up_share` where its vectors are searched
    exactly in memory, else 1 (none): the close-ups are, and an approximate or Milvus index is for catalogs
    too large to hold twice (1.1 ms for a query at 10,000 x 512, 16 ms at 100,000: index.vectors.backends)."""
    return close_up_share if index.manifest.vectors.backend == FaissFlatIP.kind else 1.0


def write_hubness(
    index: CatalogIndex,
    hubness: np.ndarray,
    info: HubnessInfo,
    out_dir: str | Path | None = None,
    close_ups: tuple[CloseUps, CloseUpInfo] | None = None,
) -> Path:
    """A new live version of `out_dir` (default: `index`'s own directory): `index`'s files, and `hubness`
    (one value per row) and `close_ups` stored with them in place of any measured before."""
    if hubness.shape != (len(index),):
        raise IndexMismatchError(f"{hubness.shape} hubness values do not fit an index of {len(index)} photos.")
    if close_ups and close_ups[0].vectors.shape != (len(index), index.dim):
        raise IndexMismatchError(f"{close_ups[0].vectors.shape} close-ups do not fit an index of {len(index)} photos.")
    manifest = index.manifest
    earlier = {file.file for file in (manifest.hubness, manifest.close_ups) if file}
    with VersionWriter(out_dir or index.path.parent) as version:
        for path in sorted(index.path.rglob("*")):
            name = path.relative_to(index.path).as_posix()
            if path.is_file() and name != MANIFEST and name not in earlier:
                (version.folder / name).parent.mkdir(parents=True, exist_ok=True)
                link_or_copy(path, version.folder / name)
        save_hubness(version.folder, hubness, info)
        if close_ups:
            save_close_ups(version.folder, *close_ups)
        close_info = close_ups[1] if close_ups else None
        return version.commit(replace(manifest, hubness=info, close_ups=close_info, checksums={}))


def _linked(index: CatalogIndex) -> bool:
    return any(is_url(image) for image in index.table.products.column("image").to_pylist())
