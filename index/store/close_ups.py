"""An index version's close-up vectors: each catalog photo's middle (`settings.catalog.close_up_share`),
embedded for the photos of one product, and their hubness.

A shopper's photo of one product is framed closer than the catalog's photo of it, which shows the product
whole with a margin round it: matched against each catalog photo's middle, the shopper's photo finds its
product more often (docs/quality.md); a room's crops find more matched against both, each photo at the
better of its whole's and its middle's similarity (`index.catalog_index.CatalogIndex.search`). Measured with
the hubness (`index.builder.hubbed`) on the index's thumbnails and stored as safetensors (no pickle),
checksummed with the version's other files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from ..errors import IndexCorruptError
from .manifest import CloseUpInfo, Manifest


@dataclass(frozen=True)
class CloseUps:
    vectors: np.ndarray  # (rows, D) float32, L2-normalised: each catalog photo's middle
    hubness: np.ndarray  # (rows,) float32: theirs, as `index.store.hubness` holds the whole photos'


def save_close_ups(folder: Path, close_ups: CloseUps, info: CloseUpInfo) -> None:
    arrays = {"vectors": close_ups.vectors, "hubness": close_ups.hubness}
    save_file({name: np.ascontiguousarray(a, np.float32) for name, a in arrays.items()}, str(folder / info.file))


def load_close_ups(version: Path, manifest: Manifest) -> CloseUps | None:
    """The close-ups of the version at `version` (its files checked already); None where none were measured."""
    info = manifest.close_ups
    if info is None:
        return None
    try:
        arrays = load_file(version / info.file)
        close_ups = CloseUps(arrays["vectors"], arrays["hubness"])
    except (SafetensorError, KeyError, OSError) as exc:
        raise IndexCorruptError(f"The close-ups of {version} cannot be read ({exc}); rebuild the index.") from exc
    rows, dim = manifest.products, manifest.encoder.dim
    if close_ups.vectors.shape != (rows, dim) or close_ups.hubness.shape != (rows,):
        raise IndexCorruptError(
            f"The close-ups of {version} hold {close_ups.vectors.shape} vectors for {rows} photos of {dim} "
            f"dimensions; rebuild the index."
        )
    if not (np.isfinite(close_ups.vectors).all() and np.isfinite(close_ups.hubness).all()):
        raise IndexCorruptError(f"The close-ups of {version} hold values that are not numbers; rebuild the index.")
    return close_ups
