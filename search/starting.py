"""An engine that starts in the background, so that the page is served while the index is built, and
that follows its index's live version afterwards.

The first start of the app on a new machine builds its catalog's index (minutes on a CPU); the page
is up at once meanwhile and says how far the build has come, and the API answers with how far it is.
Once it serves, a new version made live in the index directory (`python -m index update`, a build,
`python -m train adapt`) is loaded within seconds and swapped in between searches, without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from core.errors import LookalikeError
from core.settings import Settings
from index.builder.hub import hub_index
from index.builder.hubbed import measure_missing
from index.catalog_index import CatalogIndex
from index.store.versions import live_version

from .engine import Engine, load_engine

log = logging.getLogger(__name__)
CHECK_EVERY_S = 5.0  # how often the index directory is looked at for a new live version (a stat and a read)


class StartingEngine:
    """An `Engine` loaded (its index built first, where it must be) in a thread of its own."""

    def __init__(self, settings: Settings, engine: Engine | None = None):
        self.settings = settings
        self.engine = engine
        self.error: str | None = None  # why the engine could not start, in one line
        self.done = self.total = 0  # catalog rows indexed, and in all, while a build runs
        self.previous: Path | None = None  # the version served before the last reload: its thumbnails still shown
        self._thread: threading.Thread | None = None
        self._ready = threading.Lock()
        self._hooks: list[Callable[[Engine], None]] = []
        self._stop = threading.Event()
        self._refused: str | None = None  # a live version that could not be loaded: not tried again

    @classmethod
    def of(cls, engine: Engine) -> StartingEngine:
        """An engine already loaded."""
        return cls(Settings(search=engine.settings), engine)

    def start(self) -> StartingEngine:
        self._thread = threading.Thread(target=self._load, name="lookalike-start", daemon=True)
        self._thread.start()
        return self

    def when_ready(self, hook: Callable[[Engine], None]) -> None:
        """Run `hook` on the engine before anyone else can use it (now, if it is ready), and on each
        engine a new version of the index brings."""
        with self._ready:
            self._hooks.append(hook)
            if self.engine is None:
                return
        hook(self.engine)

    def follow(self, every: float = CHECK_EVERY_S) -> StartingEngine:
        """Look at the index directory every `every` seconds, and serve a new live version when one appears."""

        def watch():
            while not self._stop.wait(every):
                self.reload_if_changed()

        threading.Thread(target=watch, name="lookalike-index-watch", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def reload_if_changed(self) -> bool:
        """Serve the index directory's live version if it is not the one served; whether it was swapped in.
        A version that cannot be loaded is logged once, and the one served stays."""
        engine = self.engine
        if engine is None:
            return False
        directory = engine.index.path.parent
        try:
            live = live_version(directory)
        except LookalikeError:  # none, or a damaged pointer: what is served stays, and a build may mend it
            return False
        if live == engine.index.path or live.name == self._refused:
            return False
        try:
            index = CatalogIndex.load(directory, engine.encoder)
            fresh = engine.with_index(index)
        except LookalikeError as exc:
            self._refused = live.name
            log.warning(
                "The index in %s has a new live version, %s, that cannot be served (%s); still serving %s.",
                directory,
                live.name,
                exc,
                engine.index.path.name,
            )
            return False
        with self._ready:
            for hook in self._hooks:
                hook(fresh)
            self.previous, self.engine = engine.index.path, fresh
        log.info(
            "Serving the index's new version %s (%d products), in place of %s.",
            index.path.name,
            len(index),
            engine.index.path.name,
        )
        return True

    def thumbnail(self, version: str, row: int) -> Path | None:
        """The thumbnail of `row` of the served `version`, or of the one served before it (a page showing
        its results may still ask); None for any other."""
        for served in (self.engine.index.path if self.engine else None, self.previous):
            if served is not None and served.name == version:
                path = served / "images" / f"{row}.jpg"
                return path if row >= 0 and path.is_file() else None
        return None

    def wait(self, timeout: float | None = None) -> Engine | None:
        if self._thread:
            self._thread.join(timeout)
        return self.engine

    @property
    def status(self) -> str:
        """Where the start is, for people: empty once the engine is ready."""
        if self.engine:
            return ""
        if self.error:
            return f"The catalog could not be loaded: {self.error}"
        if self.total and self.done >= self.total:  # then its product table and kinds are written
            return f"Indexing the catalog: {self.total:,} products embedded, finishing. Search opens when it is done."
        if self.total:
            return (
                f"Indexing the catalog: {self.done:,} of {self.total:,} products ({self.share:.0%}). "
                f"Search opens when it is done."
            )
        return "Reading the catalog and loading the models…"

    @property
    def share(self) -> float:
        return self.done / self.total if self.total else 0.0

    def _load(self) -> None:
        try:
            # Served once its photos are embedded: its hubness and close-ups, measured after (minutes on a CPU
            # for a new index), are swapped in by `_measure`.
            engine = load_engine(self.settings, build_index=True, on_progress=self._progress, measure=False)
            engine.warm_up()
            with self._ready:
                for hook in self._hooks:
                    hook(engine)
                self.engine = engine
        except LookalikeError as exc:
            self.error = str(exc)
        except Exception as exc:  # anything else still reaches the page, as one line, and the log in full
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("The engine could not start.")
        if self.error:
            log.error("%s", self.error)
        elif self.engine is not None:
            self._measure(self.engine)

    def _measure(self, engine: Engine) -> None:
        """The served index's hubness and close-ups measured where it has none (a first start, a new setting),
        and the version holding them served; an index from the Hub is served as it was pushed."""
        catalog = self.settings.catalog
        if hub_index(catalog.index_dir):
            return
        close_up_share = catalog.close_up_share
        if measure_missing(engine.index, engine.frozen_encoder, catalog.hub_views, close_up_share=close_up_share):
            self.reload_if_changed()

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
