"""Searches that arrive together run together: one `Engine.search_many` call for all of them.

A server hands each request to `SearchBatcher.search` from its own thread; the request waits in line
and its thread waits for the answer. One engine thread, the batcher's own, takes every request waiting
(up to `max_batch`) and runs them as one batch; alone, a request runs at once, as a batch of one.
Requests in a batch that ask the same thing (the same pixels and options: a crowd trying the page's
example photos) are searched once and share the answer.

Every batch runs on that one thread, not on whichever request thread comes first: a thread that runs
the models keeps its own malloc arena, OpenMP team and oneDNN scratch, so batches spread over a
server's request threads held more memory, and kept adding to it (issue 25; 600 searches by 4
clients: 1.8 -> 2.1 GiB, +18 MiB per 100 searches over the second half; on one thread 1.5 -> 1.7 GiB, +7).
After each batch the thread hands the heap's freed pages back, so that a batch's activations do not
stay resident as the allocator's high-water mark: 1.25 -> 1.28 GiB, -0.2 MiB per 100 searches. It
costs a search ~30 ms (146 -> 176 ms for examples/bedroom.jpg), faulting its memory in again; trimming
only when nobody waited left a busy server at its high-water mark (1.15 -> 1.65 GiB), and every 4th or
10th batch swinging by ~100 MiB. And blocks of 4 MiB or more get mappings of their own, returned when
freed (`models.runtime.map_large_blocks`): carved from the heap, a batch's crops and activations
fragmented it, so that under a busy neighbour, with batches larger, memory crept between trims.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from PIL import Image

from core.types import Filters, SearchResult
from models.runtime import map_large_blocks, trim_memory

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
        self._arrived = threading.Condition()  # guards _waiting and _thread
        self._engine_lock = threading.Lock()  # held while a batch runs: whoever must have the engine alone takes it
        self._thread: threading.Thread | None = None  # the engine thread, started by the first search

    def search(
        self,
        photo: Image.Image,
        top_k: int,
        conf: float,
        *,
        box: tuple[float, ...] | None = None,
        words: str = "",
        filters: Filters = Filters(),
    ) -> SearchResult:
        """`Engine.search(photo, top_k, conf, ...)`, run in a batch with the searches waiting beside it."""
        pixels = hashlib.sha256(photo.tobytes()).hexdigest()
        request = _Request(
            Query(photo, top_k, conf, box, words, filters),
            (pixels, photo.size, photo.mode, top_k, conf, box, words, filters),
        )
        with self._arrived:
            self._waiting.append(request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="search-engine", daemon=True)
                self._thread.start()
            self._arrived.notify()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.result is not None  # done without an error: its answer is in (`_run`)
        return request.result

    def _serve(self) -> None:
        """The engine thread: batch after batch of the requests waiting, for as long as the app runs."""
        map_large_blocks()
        while True:
            with self._arrived:
                self._arrived.wait_for(lambda: self._waiting)
            with self._engine_lock:
                with self._arrived:
                    batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
                try:
                    self._run(batch)
                except BaseException as exc:
                    for request in batch:
                        if not request.done.is_set():
                            request.error = exc
                            request.done.set()
                trim_memory()  # ~8 ms, after the answers

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
