"""An index version's stored hubness: how near each catalog photo lies to shoppers' photos of any product.

Some catalog photos (a plain white product, a photo much like a room) are near every query and crowd
the top of every list; the engine lowers each photo's similarity by its hubness (`search.engine`,
`settings.hub_weight`). Measured by `python -m train hubs` on the version's own vectors and stored as
one float32 per row in a safetensors file (no pickle), checksummed with the version's other files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from ..errors import IndexCorruptError
from .manifest import HubnessInfo, Manifest

KEY = "hubness"


def save_hubness(folder: Path, hubness: np.ndarray, info: HubnessInfo) -> None:
    save_file({KEY: np.ascontiguousarray(hubness, np.float32)}, str(folder / info.file))


def load_hubness(version: Path, manifest: Manifest) -> np.ndarray | None:
    """The hubness of each row of the version at `version` (its files checked already); None where none was measured."""
    info = manifest.hubness
    if info is None:
        return None
    try:
        hubness = load_file(version / info.file)[KEY]
    except (SafetensorError, KeyError, OSError) as exc:
        raise IndexCorruptError(f"The hubness of {version} cannot be read ({exc}); rebuild the index.") from exc
    if hubness.shape != (manifest.products,) or not np.isfinite(hubness).all():
        raise IndexCorruptError(
            f"The hubness of {version} holds {hubness.shape} values for {manifest.products} photos; "
            f"measure it again (python -m train hubs) or rebuild the index."
        )
    return hubness
