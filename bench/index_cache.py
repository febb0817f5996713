"""Where a benchmark keeps its catalog index: one folder per catalog content and encoder."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from core.paths import cache_root
from index.store.kinds import load_kind_rules


def cache_dir(
    catalog: str | Path,
    encoder_name: str,
    photo_share: float = 1.0,
    root: str | Path | None = None,
    kind_rules: str = "",
) -> Path:
    """Where the index of `catalog` (a CSV/JSONL file) embedded by `encoder_name` is kept, at `photo_share`
    (`settings.catalog.photo_share`: an index keeps the share it was built at), its kinds by `kind_rules`.

    Keyed by the catalog's path and content, the encoder's name, the share and the kind rules (the
    built-in ones too: an index keeps the kinds it was built with, and the app serves one built by earlier
    rules while none is named); the index itself also refuses an encoder whose weights differ, so a stale entry
    is rebuilt (`index.builder.ensure.ensure_index`).
    """
    path = Path(catalog).resolve()
    digest = hashlib.sha256()
    digest.update(str(path).encode())
    digest.update(path.read_bytes())
    digest.update(encoder_name.encode())
    digest.update(repr(float(photo_share)).encode())
    digest.update(load_kind_rules(kind_rules).sha256.encode())
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{path.parent.name}-{Path(encoder_name).name}").strip("-")
    return Path(root or cache_root() / "bench") / f"{slug}-{digest.hexdigest()[:12]}"
