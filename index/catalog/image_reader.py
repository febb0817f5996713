"""A batch of catalog images, whatever holds them, read, fingerprinted and decoded for the build.

A catalog's image is a file, bytes, a decoded image, a `datasets` image value ({"bytes", "path"}),
a web link (fetched: `index.catalog.fetch`) or an image stored in a dataset's parquet files (read by row
group: `index.catalog.from_tables`). What cannot be read comes back as a short reason, to be counted.
Each image read has a content digest (`digest`), by which an update knows an image it embedded before.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from core.images import ImageError, load_image
from core.paths import cache_root

from .fetch import FetchFailure, ImageFetcher, is_url
from .tables import StoredImage, Unreadable

UNREADABLE = "unreadable image"


class ImageReader:
    def __init__(self, fetcher: ImageFetcher | None = None):
        self.fetcher = fetcher or ImageFetcher(cache_root() / "images")

    def read(self, values: list) -> list[Image.Image | tuple[str, str]]:
        """Each value decoded, or (reason, detail) where it cannot be: reason a short category
        ("HTTP 404", "timed out", "unreadable image", ...), detail what a person fixes it by."""
        return [decode(value) for value in self.fetch(values)]

    def fetch(self, values: list) -> list:
        """Each value as it is held once fetched (bytes, a path, a decoded image, or a `FetchFailure`):
        what `digest` and `decode` take."""
        raw = list(values)
        links = [i for i, v in enumerate(raw) if is_url(v)]
        for i, got in zip(links, self.fetcher.fetch([raw[i] for i in links])):
            raw[i] = got
        stored: dict[tuple, list[int]] = defaultdict(list)
        for i, value in enumerate(raw):
            if isinstance(value, StoredImage):
                stored[(id(value.table), value.column)].append(i)
        for rows in stored.values():
            first = raw[rows[0]]
            for i, got in zip(rows, first.table.values_at(first.column, [raw[i].at for i in rows])):
                raw[i] = got
        return raw

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.fetcher.close()


def digest(value) -> bytes | None:
    """The SHA-256 of what a fetched `value` holds (its file's or its bytes', a decoded image's pixels),
    None where nothing was fetched: equal digests are the same image."""
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, (bytes, bytearray)):
        return hashlib.sha256(value).digest()
    if isinstance(value, (str, Path)):
        try:
            with open(value, "rb") as f:
                return hashlib.file_digest(f, "sha256").digest()
        except OSError:
            return None
    if isinstance(value, Image.Image):
        layout, pixels = f"{value.mode} {value.size}", value.tobytes()
    elif isinstance(value, np.ndarray):
        layout, pixels = f"{value.dtype} {value.shape}", np.ascontiguousarray(value).tobytes()
    else:
        return None
    return hashlib.sha256(layout.encode() + pixels).digest()


def decode(value) -> Image.Image | tuple[str, str]:
    """A fetched `value` decoded, or (reason, detail) as `ImageReader.read` says."""
    if isinstance(value, FetchFailure):
        return value.reason, str(value)
    if isinstance(value, Unreadable):
        return value.reason, value.detail
    if value is None:  # a stored image row with no image in it
        return UNREADABLE, "the image value is empty"
    if isinstance(value, dict):  # a datasets image value, undecoded
        value = value.get("bytes") or value.get("path")
        if value is None:
            return UNREADABLE, "the image value holds neither bytes nor a path"
    try:
        return load_image(value)
    except ImageError as exc:
        return UNREADABLE, str(exc)
