"""A build's embedded batches, kept beside the index as it goes, so that a build killed half way (a Space
restarting during its first start) continues from them rather than starting over.

`out_dir/.staged-<encoder key>/` holds one `batch-<n>.npz` per batch embedded (each photo's product id,
digest, vector and border colour; plain arrays, no pickle) and each photo's thumbnail, `<key>.jpg`. A batch
file is renamed into place after its thumbnails are written, so whatever a kill leaves is whole. The next
build of that directory with the same encoder (its description and probe embedding) takes those photos over
as an update takes over the live version's (`index.builder.build.Embedded`: by product id and photo digest,
so a photo that changed is embedded again); the folder goes when a build of it is committed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from .embedded import Embedded

log = logging.getLogger(__name__)


def staging_folder(out_dir: str | Path, encoder, photo_share: float = 1.0) -> Path:
    """Where builds of `out_dir` with `encoder` keep their batches: named by the encoder's identity and weights,
    and by the share of each photo they embed (`settings.catalog.photo_share`)."""
    identity = json.dumps([encoder.describe().__dict__, photo_share], sort_keys=True, default=str).encode()
    key = hashlib.sha256(identity + np.asarray(encoder.probe(), np.float32).tobytes()).hexdigest()[:16]
    return Path(out_dir) / f".staged-{key}"


class Staged(Embedded):
    """The photos earlier builds into `folder` embedded and kept; `keep` adds a batch."""

    def __init__(self, folder: Path):
        self.folder = folder
        ids, digests, vectors, borders = [], [], [], []
        for batch in sorted(folder.glob("batch-*.npz")):
            with np.load(batch, allow_pickle=False) as arrays:
                ids += arrays["ids"].tolist()
                digests += arrays["digests"].tolist()
                vectors.append(arrays["vectors"])
                borders.append(arrays["borders"])
        self.batches = len(vectors)
        self._vectors = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)
        super().__init__(
            {(i, d): key for key, (i, d) in enumerate(zip(ids, digests))},
            np.concatenate(borders) if borders else np.zeros((0, 3)),
        )
        self.size = len(ids)
        if self.size:
            log.info("Resuming the build: %d photos embedded by an earlier one are taken over.", self.size)

    def vectors(self, keys: np.ndarray) -> np.ndarray:
        return self._vectors[keys]

    def thumbnail(self, key: int, path: Path) -> None:
        shutil.copyfile(self.folder / f"{key}.jpg", path)

    def keep(self, photos: list[tuple[str, bytes]], vectors: np.ndarray, borders: list, thumbnails: list) -> None:
        """A batch just embedded: each photo's (product id, digest), vector, border and thumbnail (a path, or
        None for a photo kept as its link)."""
        self.folder.mkdir(exist_ok=True)
        for key, thumbnail in enumerate(thumbnails, start=self.size):
            if thumbnail is not None:
                shutil.copyfile(thumbnail, self.folder / f"{key}.jpg")
        part = self.folder / f".batch-{self.batches:06d}.npz.part"
        with part.open("wb") as f:
            np.savez(
                f,
                ids=np.array([i for i, _ in photos], dtype=str),
                digests=np.array([d for _, d in photos], dtype="S32"),
                vectors=np.asarray(vectors, np.float32),
                borders=np.asarray(borders, np.float64).reshape(-1, 3),
            )
        os.replace(part, self.folder / f"batch-{self.batches:06d}.npz")
        self.batches += 1
        self.size += len(photos)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
