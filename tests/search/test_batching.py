"""Searches that arrive together run as one batch, and each gets its own answer or its own error."""

import threading
import time

import pytest
from PIL import Image

from core.images import ImageError
from search.batching import SearchBatcher
from search.engine import Engine
from support import same_result


@pytest.fixture(scope="module")
def engine(tiny_shop_engine):
    return tiny_shop_engine


class CountingEngine(Engine):
    """The engine, recording how many photos each batch held."""

    def __init__(self, engine: Engine):
        super().__init__(engine.detector, engine.encoder, engine.index, engine.settings)
        self.batches: list[int] = []

    def search_many(self, queries):
        self.batches.append(len(queries))
        return super().search_many(queries)


def _arrive_together(batcher: SearchBatcher, asked: list) -> list:
    """Send `asked` (photo, top_k, conf) from one thread each while the engine is busy, then free it:
    they are all waiting when the next batch is taken. Returns each answer or error, in order."""
    answers = [None] * len(asked)

    def ask(i, photo, top_k, conf):
        try:
            answers[i] = batcher.search(photo, top_k, conf)
        except Exception as exc:
            answers[i] = exc

    with batcher._engine_lock:  # busy with an earlier batch
        threads = [threading.Thread(target=ask, args=(i, *a)) for i, a in enumerate(asked)]
        for thread in threads:
            thread.start()
        while len(batcher._waiting) < len(asked):
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_searches_waiting_together_are_one_batch_with_each_its_own_answer(engine):
    counting = CountingEngine(engine)
    photos = [Image.effect_noise((120 + 8 * i, 90), 50 + i).convert("RGB") for i in range(5)]
    asked = [(photo, 1 + i % 2, 0.25 if i != 3 else 1.0) for i, photo in enumerate(photos)]

    answers = _arrive_together(SearchBatcher(counting, max_batch=8), asked)

    assert counting.batches == [5]
    for (photo, top_k, conf), answer in zip(asked, answers):
        assert same_result(answer, engine.search(photo, top_k, conf))
    assert answers[3].whole_image  # conf=1: nothing passed, for that request only


def test_batches_hold_at_most_max_batch(engine):
    counting = CountingEngine(engine)
    photos = [Image.effect_noise((100, 80), 50 + i).convert("RGB") for i in range(5)]
    answers = _arrive_together(SearchBatcher(counting, max_batch=2), [(photo, 1, 0.25) for photo in photos])
    assert sorted(counting.batches) == [1, 2, 2] and all(len(a.objects) for a in answers)


def test_the_same_question_asked_together_is_searched_once(engine):
    counting = CountingEngine(engine)
    photo, other = Image.effect_noise((100, 80), 50).convert("RGB"), Image.effect_noise((100, 80), 51).convert("RGB")
    asked = [(photo.copy(), 2, 0.25) for _ in range(4)] + [(other, 2, 0.25), (photo, 1, 0.25)]

    answers = _arrive_together(SearchBatcher(counting, max_batch=8), asked)

    assert counting.batches == [3]  # the same pixels, top_k and conf: one search
    for (image, top_k, conf), answer in zip(asked, answers):
        assert same_result(answer, engine.search(image, top_k, conf))


def test_a_bad_request_fails_alone(engine):
    good = Image.effect_noise((100, 80), 50).convert("RGB")
    huge = Image.new("L", (8000, 6000))  # over the engine's pixel limit
    answers = _arrive_together(SearchBatcher(engine, max_batch=8), [(good, 1, 0.25), (huge, 1, 0.25), (good, 2, 0.25)])
    assert isinstance(answers[1], ImageError)
    assert same_result(answers[0], engine.search(good, 1, 0.25))
    assert same_result(answers[2], engine.search(good, 2, 0.25))


def test_alone_a_search_runs_at_once(engine):
    counting = CountingEngine(engine)
    photo = Image.effect_noise((100, 80), 50).convert("RGB")
    assert same_result(SearchBatcher(counting, max_batch=8).search(photo, 2, 0.25), engine.search(photo, 2, 0.25))
    assert counting.batches == [1]


class ThreadRecordingEngine(CountingEngine):
    """The engine, recording which thread ran each batch."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self.threads: list[threading.Thread] = []

    def search_many(self, queries):
        self.threads.append(threading.current_thread())
        return super().search_many(queries)


def test_every_batch_runs_on_the_batchers_one_thread_whichever_thread_asks(engine):
    recording = ThreadRecordingEngine(engine)
    batcher = SearchBatcher(recording, max_batch=2)
    photos = [Image.effect_noise((100, 80), 50 + i).convert("RGB") for i in range(5)]
    callers = []

    def ask(photo):
        callers.append(threading.current_thread())
        batcher.search(photo, 1, 0.25)

    for photo in photos[:2]:  # one after another, each from a thread of its own
        thread = threading.Thread(target=ask, args=(photo,))
        thread.start()
        thread.join(timeout=60)
    _arrive_together(batcher, [(photo, 1, 0.25) for photo in photos[2:]])  # together, in batches of 2
    batcher.search(photos[0], 2, 0.25)  # and from this thread

    assert len(recording.threads) == len(recording.batches) >= 4
    assert len(set(recording.threads)) == 1
    assert recording.threads[0] not in (*callers, threading.current_thread())


def test_a_failed_batch_leaves_the_engine_thread_serving(engine):
    class Broken(CountingEngine):
        def search_many(self, queries):
            if len(self.batches) == 0:
                self.batches.append(len(queries))
                raise RuntimeError("out of memory")
            return super().search_many(queries)

    batcher = SearchBatcher(Broken(engine), max_batch=8)
    photo = Image.effect_noise((100, 80), 50).convert("RGB")
    with pytest.raises(RuntimeError, match="out of memory"):  # raised in the caller's thread
        batcher.search(photo, 1, 0.25)
    assert same_result(batcher.search(photo, 1, 0.25), engine.search(photo, 1, 0.25))


def test_the_engine_thread_maps_large_blocks_apart_and_hands_freed_memory_back_after_each_batch(engine, monkeypatch):
    import search.batching as batching

    trims = []
    monkeypatch.setattr(batching, "map_large_blocks", lambda: trims.append("mapped apart"))
    monkeypatch.setattr(batching, "trim_memory", lambda: trims.append(threading.current_thread().name))
    batcher = SearchBatcher(engine, max_batch=2)
    photo = Image.effect_noise((64, 48), 40).convert("RGB")
    answers = _arrive_together(batcher, [(photo, 1 + i, 0.25) for i in range(5)])  # batches of 2, 2, 1
    assert all(not isinstance(a, Exception) for a in answers)
    _until(lambda: len(trims) == 4)
    assert trims == ["mapped apart"] + ["search-engine"] * 3


def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)
