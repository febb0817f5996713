"""Make sure the index directory holds an index of the configured catalog, building it when it does not.

The app calls this at start-up: the first start builds the index (minutes, with a progress bar in
the log); later starts find it and load in seconds.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from search.encoder import DEFAULT_ENCODER, Encoder, load_encoder
from search.settings import DEFAULT_CATALOG

from .build import build_index
from .catalog import open_catalog
from .store import CatalogIndexError, live_version

log = logging.getLogger(__name__)


def ensure_index(settings, progress: bool = True) -> Encoder | None:
    """Make `settings.index_dir` hold a usable index, building one if needed.

    Returns the encoder loaded for a build, so that the caller need not load it again; None when
    the index was already there.

    An index already there is served as it is, unless the settings name a different catalog or
    encoder than it was built with. An index built from another catalog is also kept while the
    catalog setting is left at its default, so that a prebuilt index can be served by pointing
    LOOKALIKE_INDEX_DIR at it alone.
    """
    directory = Path(settings.index_dir)
    reason = _reason_to_build(settings, directory)
    if reason is None:
        return None
    log.info("Building the index in %s: %s.", directory, reason)
    catalog = open_catalog(settings.catalog)
    encoder_name = settings.encoder or DEFAULT_ENCODER
    encoder = load_encoder(encoder_name, device=settings.device)
    log.info("Embedding %d catalog images of %s with %s (done once; later starts reuse the index).",
             len(catalog), settings.catalog, encoder_name)
    report = build_index(catalog, encoder, directory, progress=progress)
    log.info("%s", report.summary())
    return encoder


def _reason_to_build(settings, directory: Path) -> str | None:
    try:
        manifest = json.loads((live_version(directory) / "manifest.json").read_text(encoding="utf-8"))
        source, built_with = manifest["source"], manifest["encoder"]["name"]
    except (CatalogIndexError, OSError, ValueError, KeyError, TypeError) as exc:
        return "there is no usable index yet" if not (directory / "CURRENT").exists() else f"the index is unreadable ({exc})"
    if settings.catalog != DEFAULT_CATALOG and not same_source(settings.catalog, source):
        return f"it was built from {describe_source(source)}, not {settings.catalog}"
    if settings.encoder and _normalise(settings.encoder) != _normalise(built_with):
        return f"it was built with the encoder {built_with}, not {settings.encoder}"
    log.info("Serving the index in %s (%s, encoder %s, %s products).",
             directory, describe_source(source), built_with, manifest.get("products"))
    return None


def same_source(catalog: str, source: dict) -> bool:
    """Whether the catalog setting (Hub id, folder or manifest path) names the source an index recorded."""
    kind = source.get("type")
    if kind == "hub":
        return catalog == source.get("id")
    if kind in ("local", "disk"):
        recorded = Path(source.get("path", ""))
        given = Path(catalog).expanduser().resolve()
        # A folder holding products.csv (or another manifest) names the same catalog as the file.
        return given == recorded or (kind == "local" and given == recorded.parent)
    return False


def describe_source(source: dict) -> str:
    """A short human name for an index's recorded source."""
    if source.get("type") == "hub":
        return f"the Hub dataset {source.get('id')}"
    return str(source.get("path") or source.get("type") or "an unknown catalog")


def _normalise(name: str) -> str:
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name
