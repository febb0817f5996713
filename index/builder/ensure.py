"""The one way from settings to a loaded index and its encoder, building the index when asked to.

The app builds the index on its first start (minutes, with a progress bar in the log) and finds
it on later starts; the search CLI only loads; the benchmarks build into a cache of their own.
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.defaults import DEFAULT_CATALOG, DEFAULT_ENCODER
from core.protocols import ImageEncoder
from core.settings import CatalogSettings, ModelSettings
from index.catalog.open import open_catalog
from index.catalog.source import ColumnMap, Reading
from index.catalog_index import CatalogIndex
from index.errors import CatalogIndexError, IndexMismatchError
from index.store.kinds import load_kind_rules
from index.store.manifest import Manifest
from index.store.versions import read_live_manifest
from models.encoder import Encoder, encoder_for

from .build import build_index
from .hub import download, hub_index
from .hubbed import load_hubbed

log = logging.getLogger(__name__)


def ensure_index(
    settings: CatalogSettings,
    models: ModelSettings,
    *,
    build: bool = False,
    progress: bool = True,
    on_progress=None,
    measure: bool = True,
) -> tuple[CatalogIndex, ImageEncoder]:
    """The index in `settings.index_dir` and the encoder to query it with (`models.encoder`, by default
    the one it was built with; adapted as the index is, `CatalogIndex.query_encoder`).

    With `build`, an index is built there first when there is none, when it is unreadable, or when
    the settings name another catalog, encoder or kind rules than it was built with, or the encoder's weights
    changed; then, with `measure`, its photos' hubness and close-ups are measured where it has none
    (`index.builder.hubbed.load_hubbed`).
    An index built from another catalog is kept while the catalog setting is left at its
    default, so that a prebuilt index can be served by pointing LOOKALIKE_INDEX_DIR at it alone.
    Without `build`, those cases are errors. An index on the Hub (`hf://datasets/OWNER/NAME@REVISION`)
    is downloaded into the local Hub cache and served as it is, never rebuilt. `progress` and
    `on_progress` are a build's (`index.builder.build.build_index`).
    """
    hub = hub_index(settings.index_dir)
    directory = download(hub) if hub else Path(settings.index_dir)
    if hub:
        log.info("Serving the index %s (%s).", hub, directory)
    reason, encoder = _reason_to_build(settings, models, directory) if build and not hub else (None, None)
    if reason:
        log.info("Building the index in %s: %s.", directory, reason)
        encoder = _build(settings, models, directory, encoder, progress, on_progress)
    if encoder is None:
        name = models.encoder or read_live_manifest(directory).encoder.name
        encoder = encoder_for(name, models)
    if build and measure and not hub:
        index = load_hubbed(directory, encoder, settings.hub_views, progress, settings.close_up_share)
    else:
        index = CatalogIndex.load(directory, encoder)
    if _other_rules(settings, index.manifest):
        raise IndexMismatchError(
            f"The index at {directory} was built with other kind rules than "
            f"{settings.kind_rules}; rebuild it with them (python -m index build)."
        )
    return index, index.query_encoder(encoder)


def _build(
    settings: CatalogSettings,
    models: ModelSettings,
    directory: Path,
    encoder: Encoder | None,
    progress: bool,
    on_progress,
) -> Encoder:
    """Build the index the settings describe into `directory`; the encoder it was built with."""
    catalog = open_catalog(settings.source, ColumnMap(text=settings.text_column_list), Reading.from_settings(settings))
    encoder = encoder or encoder_for(models.encoder or DEFAULT_ENCODER, models)
    log.info(
        "Embedding %d catalog images of %s with %s (done once; later starts reuse the index).",
        len(catalog),
        settings.source,
        encoder.name,
    )
    report = build_index(
        catalog,
        encoder,
        directory,
        batch_size=settings.batch_size,
        progress=progress,
        rules=load_kind_rules(settings.kind_rules),
        on_progress=on_progress,
        vector_index=settings.vectors,
        thumbnails=settings.thumbnails,
        photo_share=settings.photo_share,
    )
    log.info("%s", report.summary())
    return encoder


def must_build(settings: CatalogSettings, models: ModelSettings) -> str | None:
    """Why the index must be built, when the settings alone tell (no index, or one of another catalog,
    cap, encoder or kind rules); None otherwise, though other weights of its encoder may still call
    for a build (`ensure_index` checks them)."""
    if hub_index(settings.index_dir):
        return None
    return _settings_reason(settings, models, Path(settings.index_dir))


def _settings_reason(settings: CatalogSettings, models: ModelSettings, directory: Path) -> str | None:
    try:
        manifest = read_live_manifest(directory)
    except CatalogIndexError as exc:
        missing = not (directory / "CURRENT").exists()
        return "there is no usable index yet" if missing else f"the index is unreadable ({exc})"
    built_with = manifest.encoder.name
    if settings.source != DEFAULT_CATALOG and not manifest.source.is_named_by(settings.source):
        return f"it was built from {manifest.source.describe()}, not {settings.source}"
    if manifest.source.is_named_by(settings.source) and (settings.catalog_limit or None) != manifest.source.limit:
        return (
            f"it was built with a cap of {manifest.source.limit or 'no'} products, not "
            f"{settings.catalog_limit or 'none'}"
        )
    if models.encoder and _normalise(models.encoder) != _normalise(built_with):
        return f"it was built with the encoder {built_with}, not {models.encoder}"
    if _other_rules(settings, manifest):
        return f"its products' kinds were worked out by other rules than {settings.kind_rules}"
    return None


def _reason_to_build(
    settings: CatalogSettings, models: ModelSettings, directory: Path
) -> tuple[str | None, Encoder | None]:
    """Why the index must be built, if it must; and the encoder, where one was loaded to tell."""
    reason = _settings_reason(settings, models, directory)
    if reason:
        return reason, None
    manifest = read_live_manifest(directory)
    built_with = manifest.encoder.name
    encoder = encoder_for(models.encoder or built_with, models)
    try:
        manifest.check_encoder(encoder, directory)
    except IndexMismatchError:
        return f"it was built with other weights of the encoder {encoder.name}", encoder
    log.info(
        "Serving the index in %s (%s, encoder %s, %s products).",
        directory,
        manifest.source.describe(),
        built_with,
        manifest.products,
    )
    return None, encoder


def _other_rules(settings: CatalogSettings, manifest: Manifest) -> bool:
    """Whether the settings name kind rules other than those the index was built with (none named: any)."""
    return bool(settings.kind_rules) and load_kind_rules(settings.kind_rules).sha256 != manifest.kind_rules


def _normalise(name: str) -> str:
    path = Path(name).expanduser()
    return str(path.resolve()) if path.exists() else name
