"""A benchmark's catalog index, built once per catalog and encoder and reused after."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from index.build import build_index
from index.catalog import open_catalog
from index.ensure import same_source
from index.store import CatalogIndex, CatalogIndexError


def default_cache_root() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "lookalike" / "bench"


def cache_dir(catalog: str | Path, encoder_name: str, root: str | Path | None = None) -> Path:
    """Where the index of `catalog` (a CSV/JSONL file) embedded by `encoder_name` is kept.

    Keyed by the catalog's path and content and by the encoder's name; the index itself also
    refuses an encoder whose weights differ (`CatalogIndex.load`), so a stale entry is rebuilt.
    """
    path = Path(catalog).resolve()
    digest = hashlib.sha256()
    digest.update(str(path).encode())
    digest.update(path.read_bytes())
    digest.update(encoder_name.encode())
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{path.parent.name}-{Path(encoder_name).name}").strip("-")
    return Path(root or default_cache_root()) / f"{slug}-{digest.hexdigest()[:12]}"


def cached_index(catalog: str | Path, encoder, directory: str | Path | None = None,
                 progress: bool = True) -> CatalogIndex:
    """Load the index in `directory` (default: `cache_dir`) if it was built from `catalog` with
    `encoder`, else build it there."""
    directory = Path(directory) if directory else cache_dir(catalog, encoder.name)
    try:
        index = CatalogIndex.load(directory, encoder)
        if same_source(str(catalog), index.manifest.get("source", {})):
            return index
    except CatalogIndexError:
        pass
    build_index(open_catalog(catalog), encoder, directory, progress=progress)
    return CatalogIndex.load(directory, encoder)
