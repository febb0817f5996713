"""Where Lookalike keeps its index and caches on this machine."""

from __future__ import annotations

import os
from pathlib import Path

PERSISTENT = Path("/data")  # a Space's persistent storage, where it has some


def cache_root(env=os.environ, persistent: Path | None = None) -> Path:
    """Lookalike's folder for its index and caches: in `$XDG_CACHE_HOME` where it is set, else on a Space's
    persistent storage (`persistent`) where it is a writable folder, so that they outlive a restart, else in
    the user cache."""
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]) / "lookalike"
    persistent = persistent or PERSISTENT
    if persistent.is_dir() and os.access(persistent, os.W_OK | os.X_OK):
        return persistent / "lookalike"
    return Path.home() / ".cache" / "lookalike"
