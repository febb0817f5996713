"""An index with its photos' hubness measured (`index.store.hubness`): the live version's files as they
are, and the hubness beside them, written as a build writes, a new version made live atomically."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from index.catalog_index import CatalogIndex
from index.errors import IndexMismatchError
from index.store.hubness import save_hubness
from index.store.manifest import HubnessInfo
from index.store.versions import MANIFEST, VersionWriter, link_or_copy


def write_hubness(
    index: CatalogIndex, hubness: np.ndarray, info: HubnessInfo, out_dir: str | Path | None = None
) -> Path:
    """A new live version of `out_dir` (default: `index`'s own directory): `index`'s files, and `hubness`
    (one value per row) stored with them in place of any measured before."""
    if hubness.shape != (len(index),):
        raise IndexMismatchError(f"{hubness.shape} hubness values do not fit an index of {len(index)} photos.")
    earlier = index.manifest.hubness.file if index.manifest.hubness else None
    with VersionWriter(out_dir or index.path.parent) as version:
        for path in sorted(index.path.rglob("*")):
            name = path.relative_to(index.path).as_posix()
            if path.is_file() and name not in (MANIFEST, earlier):
                (version.folder / name).parent.mkdir(parents=True, exist_ok=True)
                link_or_copy(path, version.folder / name)
        save_hubness(version.folder, hubness, info)
        return version.commit(replace(index.manifest, hubness=info, checksums={}))
