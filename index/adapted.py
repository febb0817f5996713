"""An adapted index: the same products, their vectors mapped by an adaptation (`models.adaptation`) that
is stored beside them, so that queries are mapped alike.

The adaptation is two arrays in a safetensors file (no pickle), checksummed with the version's
other files; the manifest says which frozen encoder it was learnt on (`AdaptationInfo`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from models.adaptation import Adaptation, AdaptationError

from .calibration import calibrate
from .errors import IndexCorruptError, IndexMismatchError
from .manifest import FORMAT_VERSION, PROBE_MIN_COSINE, AdaptationInfo, Manifest
from .products import PHOTOS, write_table
from .store import VersionWriter, link_or_copy
from .vectors import commit_measured, new_backend

if TYPE_CHECKING:  # catalog_index imports this module
    from .catalog_index import CatalogIndex


def load_adaptation(version: Path, manifest: Manifest) -> Adaptation | None:
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
            f"them. Rebuild the index (python -m index build), then adapt it again (python -m train adapt).")
    try:
        arrays = load_file(version / info.file)
        adaptation = Adaptation(arrays["mean"], arrays["matrix"])
    except (SafetensorError, KeyError, OSError, AdaptationError) as exc:
        raise IndexCorruptError(f"The adaptation of {version} cannot be read ({exc}); rebuild the index.") from exc
    if adaptation.dim != manifest.encoder.dim:
        raise IndexMismatchError(f"The adaptation in {version} maps {adaptation.dim}-d embeddings; the index's "
                                 f"encoder makes {manifest.encoder.dim}-d ones. Adapt the index again.")
    return adaptation


def write_adapted(index: CatalogIndex, adaptation: Adaptation, info: AdaptationInfo,
                  out_dir: str | Path | None = None) -> Path:
    """A new live version of `out_dir` (default: `index`'s own directory): `index`'s products, their
    vectors mapped by `adaptation`, which is stored with them. Written beside the live version and
    made live atomically, as a build."""
    refuse_adapted(index)
    rows = np.arange(len(index), dtype=np.int64)
    with VersionWriter(out_dir or index.path.parent) as version:
        write_table(version.folder, index.table.products, index.table.kinds)
        if (index.path / PHOTOS).is_file():  # so that the adapted index can be updated (index.update)
            link_or_copy(index.path / PHOTOS, version.folder / PHOTOS)
        _link_tree(index.thumbnails, version.folder / "images")
        vectors = new_backend(index.manifest.vectors, adaptation.dim)  # in the same backend, the same Milvus
        vectors.add(adaptation.apply(index.vectors.sample(rows)), rows)
        spec = commit_measured(vectors, version.folder)
        save_file({"mean": adaptation.mean, "matrix": adaptation.matrix}, str(version.folder / info.file))
        ids = index.table.products.column("id").to_pylist()
        return version.commit(replace(index.manifest, vectors=spec, calibration=calibrate(vectors, ids),
                                      adaptation=info, checksums={}, format=FORMAT_VERSION))


def refuse_adapted(index: CatalogIndex) -> None:
    """Refuse to adapt an index adapted already: its map was learnt on the frozen encoder's vectors."""
    if index.manifest.adaptation is not None:
        raise AdaptationError(f"The index at {index.path} is adapted already; rebuild it (python -m index build) "
                              f"to adapt it anew.")


def _link_tree(source: Path, target: Path) -> None:
    """`target` as a copy of the folder `source`, its files hard links where the file system allows."""
    target.mkdir()
    for path in source.iterdir():
        link_or_copy(path, target / path.name)
