"""Searches that arrive together run together: one `Engine.search_many` call for all of them.

A server hands each request to `SearchBatcher.search` from its own thread. Whichever caller finds
the engine free takes every request waiting (up to `max_batch`), its own among them, and runs them
as one batch; the others wait for their answer. Under load, batches grow and each photo costs less;
alone, a request runs at once, as a batch of one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from PIL import Image

from core.types import SearchResult

from .engine import Engine


@dataclass(eq=False)
class _Request:
    photo: Image.Image
    top_k: int
    conf: float
    result: SearchResult | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class SearchBatcher:
    def __init__(self, engine: Engine, max_batch: int):
        self.engine, self.max_batch = engine, max_batch
        self._waiting: list[_Request] = []
        self._waiting_lock = threading.Lock()
        self._engine_lock = threading.Lock()  # one batch at a time: they share the models and the cores

    def search(self, photo: Image.Image, top_k: int, conf: float) -> SearchResult:
        """`Engine.search(photo, top_k, conf)`, run in a batch with the searches waiting beside it."""
        request = _Request(photo, top_k, conf)
        with self._waiting_lock:
            self._waiting.append(request)
        while not request.done.is_set():
            with self._engine_lock:
                if request.done.is_set():  # a batch run by another caller answered it
                    break
                with self._waiting_lock:
                    batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch:]
                self._run(batch)
        if request.error is not None:
            raise request.error
        return request.result

    def _run(self, batch: list[_Request]) -> None:
        try:
            results = self.engine.search_many([r.photo for r in batch], [r.top_k for r in batch],
                                              [r.conf for r in batch])
        except Exception as exc:
            if len(batch) > 1:  # one request's failure must not become its neighbours'
                for request in batch:
                    self._run([request])
                return
            batch[0].error = exc
            batch[0].done.set()
            return
        for request, result in zip(batch, results):
            request.result = result
            request.done.set()
