"""An adapted index: the same products, their vectors mapped by an adaptation (`models.adaptation`), or
embedded anew with a tuned last block (`models.tuning`), which is stored beside them so that queries
are embedded alike.

Written as a build writes (`index.store.adaptation` loads it): a new version made live atomically.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from index.catalog_index import CatalogIndex
from index.store.manifest import FORMAT_VERSION, AdaptationInfo
from index.store.products import PHOTOS, write_table
from index.store.versions import VersionWriter, link_or_copy
from index.vectors.backends import new_backend
from index.vectors.calibration import calibrate
from index.vectors.recall import commit_measured
from models.adaptation import Adaptation, AdaptationError
from models.tuning import BlockTuning


def write_adapted(
    index: CatalogIndex, adaptation: Adaptation, info: AdaptationInfo, out_dir: str | Path | None = None
) -> Path:
    """A new live version of `out_dir` (default: `index`'s own directory): `index`'s products, their
    vectors mapped by `adaptation`, which is stored with them. Written beside the live version and
    made live atomically, as a build."""
    rows = np.arange(len(index), dtype=np.int64)
    arrays = {"mean": adaptation.mean, "matrix": adaptation.matrix}
    return _write(index, adaptation.apply(index.vectors.sample(rows)), arrays, info, out_dir)


def write_tuned(
    index: CatalogIndex,
    tuning: BlockTuning,
    vectors: np.ndarray,
    info: AdaptationInfo,
    out_dir: str | Path | None = None,
) -> Path:
    """As `write_adapted`, for `index`'s products embedded anew (`vectors`, one a row) with the tuned block
    `tuning`, which is stored with them."""
    if vectors.shape != (len(index), index.manifest.encoder.dim):
        raise AdaptationError(f"{vectors.shape} vectors do not fit an index of {len(index)} rows.")
    return _write(index, vectors, tuning.weights, info, out_dir)


def _write(index: CatalogIndex, vectors: np.ndarray, arrays: dict, info: AdaptationInfo, out_dir) -> Path:
    """A new live version of `out_dir`: `index`'s products with `vectors`, `arrays` in `info.file`."""
    refuse_adapted(index)
    rows = np.arange(len(index), dtype=np.int64)
    with VersionWriter(out_dir or index.path.parent) as version:
        write_table(version.folder, index.table.products, index.table.kinds)
        if (index.path / PHOTOS).is_file():  # so that the adapted index can be updated (index.builder.update)
            link_or_copy(index.path / PHOTOS, version.folder / PHOTOS)
        _link_tree(index.thumbnails, version.folder / "images")
        backend = new_backend(index.manifest.vectors, vectors.shape[1])  # in the same backend, the same Milvus
        backend.add(vectors, rows)
        spec = commit_measured(backend, version.folder)
        save_file(arrays, str(version.folder / info.file))
        ids = index.table.products.column("id").to_pylist()
        return version.commit(
            replace(
                index.manifest,
                vectors=spec,
                calibration=calibrate(backend, ids),
                adaptation=info,
                hubness=None,  # measured on the vectors before: `python -m train hubs` measures it anew
                close_ups=None,  # embedded without the map or the block
                checksums={},
                format=FORMAT_VERSION,
            )
        )


def refuse_adapted(index: CatalogIndex) -> None:
    """Refuse to adapt or tune an index adapted or tuned already: its map or block was learnt on the
    frozen encoder's vectors."""
    if index.manifest.adaptation is not None:
        raise AdaptationError(
            f"The index at {index.path} is adapted already ({index.manifest.adaptation.method}); rebuild it "
            f"(python -m index build) to adapt or tune it anew."
        )


def _link_tree(source: Path, target: Path) -> None:
    """`target` as a copy of the folder `source`, its files hard links where the file system allows."""
    target.mkdir()
    for path in source.iterdir():
        link_or_copy(path, target / path.name)
