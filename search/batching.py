"""Searches that arrive together run together: one `Engine.search_many` call for all of them.

A server hands each request to `SearchBatcher.search` from its own thread. Whichever caller finds
the engine free takes every request waiting (up to `max_batch`), its own among them, and runs them
as one batch; the others wait for their answer. Alone, a request runs at once, as a batch of one.
Requests in a batch that ask the same thing (the same pixels and options: a crowd trying the page's
example photos) are searched once and share the answer.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from PIL import Image

from core.types import Filters, SearchResult

from .engine import Engine
from .query import Query


@dataclass(eq=False)
class _Request:
    query: Query
    key: tuple = ()  # what the request asks: equal keys get equal answers
    result: SearchResult | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class SearchBatcher:
    def __init__(self, engine: Engine, max_batch: int):
        self.engine, self.max_batch = engine, max_batch
        self._waiting: list[_Request] = []
        self._waiting_lock = threading.Lock()
        self._engine_lock = threading.Lock()  # one batch at a time: they share the models and the cores

    def search(self, photo: Image.Image, top_k: int, conf: float, *, box: tuple[float, ...] | None = None,
               words: str = "", filters: Filters = Filters()) -> SearchResult:
        """`Engine.search(photo, top_k, conf, ...)`, run in a batch with the searches waiting beside it."""
        pixels = hashlib.sha256(photo.tobytes()).hexdigest()
        request = _Request(Query(photo, top_k, conf, box, words, filters),
                           (pixels, photo.size, photo.mode, top_k, conf, box, words, filters))
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
        asked = list({request.key: request for request in batch}.values())  # each distinct question once
        try:
            answers = dict(zip((r.key for r in asked), self.engine.search_many([r.query for r in asked])))
        except Exception as exc:
            if len(asked) > 1:  # one request's failure must not become its neighbours'
                for key in {r.key for r in batch}:
                    self._run([r for r in batch if r.key == key])
                return
            for request in batch:
                request.error = exc
                request.done.set()
            return
        for request in batch:
            request.result = answers[request.key]
            request.done.set()
