"""Where a benchmark keeps its catalog index: one folder per catalog content and encoder."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from core.paths import cache_root


def cache_dir(catalog: str | Path, encoder_name: str, root: str | Path | None = None) -> Path:
    """Where the index of `catalog` (a CSV/JSONL file) embedded by `encoder_name` is kept.

    Keyed by the catalog's path and content and by the encoder's name; the index itself also
    refuses an encoder whose weights differ, so a stale entry is rebuilt (`index.builder.ensure.ensure_index`).
    """
    path = Path(catalog).resolve()
    digest = hashlib.sha256()
    digest.update(str(path).encode())
    digest.update(path.read_bytes())
    digest.update(encoder_name.encode())
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{path.parent.name}-{Path(encoder_name).name}").strip("-")
    return Path(root or cache_root() / "bench") / f"{slug}-{digest.hexdigest()[:12]}"
