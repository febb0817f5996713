"""An index version's stored adaptation, loaded and checked against the vectors' encoder: a linear map
(`models.adaptation`) or a tuned last block (`models.tuning`, its `METHOD` in the manifest).

Either is arrays in a safetensors file (no pickle), checksummed with the version's other files; the
manifest says which frozen encoder it was learnt on (`AdaptationInfo`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from models import tuning
from models.adaptation import Adaptation, AdaptationError
from models.tuning import BlockTuning

from ..errors import IndexCorruptError, IndexMismatchError
from .manifest import PROBE_MIN_COSINE, Manifest


def load_adaptation(version: Path, manifest: Manifest) -> Adaptation | BlockTuning | None:
    """The adaptation of the version at `version` (its files checked already), None where it has none;
    IndexMismatchError when it was learnt on another encoder than the vectors' own."""
    info = manifest.adaptation
    if info is None:
        return None
    learnt_on = float(np.asarray(info.probe, np.float32) @ np.asarray(manifest.probe, np.float32))
    if info.encoder.dim != manifest.encoder.dim or learnt_on < PROBE_MIN_COSINE:
        raise IndexMismatchError(
            f"The adaptation in {version} was learnt on the encoder {info.encoder.name!r} ({info.encoder.dim}-d), "
            f"but the index's vectors are of {manifest.encoder.name!r} ({manifest.encoder.dim}-d): it does not fit "
            f"them. Rebuild the index (python -m index build), then adapt it again (python -m train adapt)."
        )
    try:
        arrays = load_file(version / info.file)
        if info.method == tuning.METHOD:
            return BlockTuning(arrays)  # its weights' names and shapes are checked against the encoder's own
        adaptation = Adaptation(arrays["mean"], arrays["matrix"])
    except (SafetensorError, KeyError, OSError, AdaptationError) as exc:
        raise IndexCorruptError(f"The adaptation of {version} cannot be read ({exc}); rebuild the index.") from exc
    if adaptation.dim != manifest.encoder.dim:
        raise IndexMismatchError(
            f"The adaptation in {version} maps {adaptation.dim}-d embeddings; the index's "
            f"encoder makes {manifest.encoder.dim}-d ones. Adapt the index again."
        )
    return adaptation
