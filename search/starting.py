"""An engine that starts in the background, so that the page is served while the index is built.

The first start of the app on a new machine builds its catalog's index (minutes on a CPU); the page
is up at once meanwhile and says how far the build has come, and the API answers with how far it is.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from core.errors import LookalikeError
from core.settings import Settings

from .engine import Engine, load_engine

log = logging.getLogger(__name__)


class StartingEngine:
    """An `Engine` loaded (its index built first, where it must be) in a thread of its own."""

    def __init__(self, settings: Settings, engine: Engine | None = None):
        self.settings = settings
        self.engine = engine
        self.error: str | None = None  # why the engine could not start, in one line
        self.done = self.total = 0  # catalog rows indexed, and in all, while a build runs
        self._thread: threading.Thread | None = None
        self._ready = threading.Lock()
        self._hooks: list[Callable[[Engine], None]] = []

    @classmethod
    def of(cls, engine: Engine) -> "StartingEngine":
        """An engine already loaded."""
        return cls(Settings(search=engine.settings), engine)

    def start(self) -> "StartingEngine":
        self._thread = threading.Thread(target=self._load, name="lookalike-start", daemon=True)
        self._thread.start()
        return self

    def when_ready(self, hook: Callable[[Engine], None]) -> None:
        """Run `hook` on the engine before anyone else can use it (now, if it is ready)."""
        with self._ready:
            if self.engine is None:
                self._hooks.append(hook)
                return
        hook(self.engine)

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
        if self.total:
            return (f"Indexing the catalog: {self.done:,} of {self.total:,} products ({self.share:.0%}). "
                    f"Search opens when it is done.")
        return "Reading the catalog and loading the models…"

    @property
    def share(self) -> float:
        return self.done / self.total if self.total else 0.0

    def _load(self) -> None:
        try:
            engine = load_engine(self.settings, build_index=True, on_progress=self._progress)
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

    def _progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total
