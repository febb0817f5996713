"""Measuring the catalog photos' hubness (`python -m train hubs`): how near each one lies to shoppers'
photos of any product, which the engine lowers its similarity by (`settings.hub_weight`).

A photo near many shoppers' photos of other products (a plain white product, a photo much like a room)
is a hub: it crowds the top of every list. Views in rooms of a sample of the catalog's photos
(`train.views`) stand for shoppers' photos; a photo's hubness is its mean similarity to its nearest of
them, its own views left out (cross-domain similarity local scaling, CSLS). Measured on the index's own
vectors, adapted ones too, and stored with them (`index.builder.hubbed`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from core.settings import SearchSettings
from index.builder.hubbed import write_hubness
from index.catalog_index import CatalogIndex
from index.store.manifest import HubnessInfo

from .adapt import embed_views

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
) -> tuple[Path, HubnessInfo, float]:
    """Measure the hubness of every photo of `index` (built with `encoder`) on `views` views in rooms of its
    photos, and make the index with it the live version of `out_dir` (default: the index's own directory);
    the seconds it took."""
    index.check_encoder(encoder)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(index), min(views, len(index)), replace=False))
    per_photo = -(-views // len(rows))  # a catalog of fewer photos than `views` gives several views of each
    vectors, owners = embed_views(index, index.query_encoder(encoder), per_photo, padding, progress, seed, rows)
    neighbours = max(1, round(len(vectors) * NEIGHBOURS_PER_VIEW))
    photos = index.vectors.sample(np.arange(len(index)))
    info = HubnessInfo(len(vectors), neighbours, datetime.now(UTC).isoformat(timespec="seconds"))
    path = write_hubness(index, hubness(photos, vectors, owners, neighbours), info, out_dir)
    return path, info, time.perf_counter() - start
