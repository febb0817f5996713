"""Photos embedded already, which a build takes over rather than embedding them again."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.store.manifest import AdaptationInfo


class Embedded:
    """Photos embedded already, known by (product id, photo digest): a build takes their vectors, border
    colours and thumbnails over rather than making them again. From an index's live version, for an update
    (`index.builder.update.LiveVersion`), or from embeddings made elsewhere."""

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
        """The adaptation the vectors went through (`index.builder.adapted`), its file written into `folder`."""
        return None
