"""The catalog's views in rooms (`index.views.rooms`) embedded by an encoder, read from an index's own photos."""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from core.boxes import centre_crop
from core.images import WHITE, load_image
from index.catalog_index import CatalogIndex

from .rooms import prepared_views

EMBED_BATCH = 32  # views embedded per call


class Thumbnails:
    """The catalog photos of an index, decoded when asked for: a few thousand would not fit in memory at once.
    With `share`, the middle `share` of each one's sides: with the index's `photo_share`, as its build embedded them."""

    def __init__(self, index: CatalogIndex, rows: np.ndarray | None = None, share: float = 1.0):
        self.rows = np.arange(len(index)) if rows is None else np.asarray(rows, np.int64)  # the index rows, in order
        self.paths = [index.products[int(row)].image for row in self.rows]
        self.share = share

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        path = self.paths[i]
        assert path is not None  # every product indexed has its photo's thumbnail (index.builder.build)
        return centre_crop(load_image(path), self.share)


def embed_photos(index: CatalogIndex, encoder, share: float, progress: bool = True) -> np.ndarray:
    """The middle `share` of each catalog photo of `index` (its thumbnails) embedded by `encoder`: (rows, D)."""
    photos, vectors = Thumbnails(index, share=share), []
    with tqdm(total=len(photos), desc="Embedding close-ups", unit="photo", disable=not progress) as bar:
        for start in range(0, len(photos), EMBED_BATCH):
            batch = [photos[i] for i in range(start, min(start + EMBED_BATCH, len(photos)))]
            vectors.append(encoder.embed_images(batch))
            bar.update(len(batch))
    return np.concatenate(vectors)


def embed_views(
    index: CatalogIndex,
    encoder,
    per_photo: int,
    padding: float,
    progress: bool = True,
    seed: int = 0,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Views in rooms of every catalog photo of `index` (its thumbnails), or of its `rows` alone, embedded by
    `encoder`: (M, D) vectors and (M,) the row each shows."""
    photos = Thumbnails(index, rows)
    background = index.manifest.background or WHITE
    batches = prepared_views(photos, per_photo, background, padding, seed, EMBED_BATCH, encoder.prepare)
    vectors, owners = [], []
    with tqdm(total=len(photos) * per_photo, desc="Embedding views", unit="view", disable=not progress) as bar:
        for shown, prepared in batches:
            vectors.append(encoder.embed_prepared(prepared))
            owners.append(shown)
            bar.update(len(shown))
        bar.total = bar.n  # a view mostly hidden in its room is left out: the bar ends where the views did
    return np.concatenate(vectors), np.concatenate(owners)
