"""The two public endpoints, `/search` (a photo) and `/search_text` (words): their names, parameters and
docstrings are the API, and the MCP tools' descriptions."""

from __future__ import annotations

import threading

import gradio as gr

from core.images import ImageError, load_image
from search.batching import SearchBatcher
from search.engine import Engine
from search.query import QueryError, check_conf, check_top_k, check_words, read_box, read_filters
from search.starting import StartingEngine

from .pictures import annotated_photo
from .thumbnails import relative_images
from .words import not_ready_text, photo_status, text_status, timings_text

MAX_BATCH = 8  # searches in the engine at once, run as one batch (search.batching)


class _Ready:
    """The engine that serves, and the one batcher over it, made when the engine is ready; it runs whichever
    engine serves (a new version of the index, from the next batch on)."""

    def __init__(self, starting: StartingEngine):
        self.starting = starting
        self._batchers: list[SearchBatcher] = []
        self._made = threading.Lock()

    def __call__(self) -> tuple[Engine, SearchBatcher]:
        engine = self.starting.engine
        if engine is None:
            raise gr.Error(not_ready_text(self.starting), title="Not ready yet", print_exception=False)
        with self._made:
            if not self._batchers:
                self._batchers.append(SearchBatcher(engine, MAX_BATCH))
            self._batchers[0].engine = engine
            return engine, self._batchers[0]


def endpoints(starting: StartingEngine):
    """The two public endpoints over the engine, `search` and `search_text`; their defaults are its settings'."""
    ready = _Ready(starting)
    return _photo_search(ready), _text_search(ready)


def _photo_search(ready: _Ready):
    top_k, conf = ready.starting.settings.search.top_k, ready.starting.settings.search.conf

    def search(
        image,
        top_k: int = top_k,
        conf: float = conf,
        box=None,
        words: str | None = None,
        category=None,
        min_price: float | None = None,
        max_price: float | None = None,
    ):
        """Find the objects in a photo and, for each, the most similar catalog products.

        Args:
            image: the photo (JPEG, PNG, WebP, BMP, GIF or TIFF).
            top_k: products to return per object (1 to 30).
            conf: the score an object needs to be listed (above 0, at most 1; 1 lists only the
                whole photo): its score is the stronger of the detector's confidence and the
                catalog's agreement. Lower finds more objects.
            box: optional region of the photo to search instead of detecting objects: [x1, y1, x2, y2]
                in pixels of the photo (or the text "x1, y1, x2, y2"); empty for the whole search.
            words: optional words that refine every product list, e.g. "in green" or "velvet, under
                300": products whose catalog text holds them rank higher; "under N" / "over N" set prices.
            category: optional catalog category, or list of them, to search within.
            min_price: optional lowest price of the products listed (empty or 0: none).
            max_price: optional highest price of the products listed (empty or 0: none).

        Returns:
            The photo with each object boxed and labelled; a sentence on what was found; the result
            as JSON (objects with label, box, score, closeness and close_match, and products with
            id, name, category, price, link, image, score; plus timings in ms); the stage timings as text.
        """
        engine, batcher = ready()
        path = _photo_path(image)
        k, threshold = _checked(check_top_k, top_k), _checked(check_conf, conf)
        region, words = _checked(read_box, box), _checked(check_words, words)
        filters = _checked(read_filters, category, min_price, max_price, engine.index.table.categories)
        try:
            photo = load_image(path, engine.settings.max_pixels)  # decoded once: searched, then shown boxed
            result = batcher.search(photo, top_k=k, conf=threshold, box=region, words=words, filters=filters)
        except (ImageError, QueryError) as exc:
            raise gr.Error(str(exc), title="This photo can't be searched", print_exception=False) from exc
        return annotated_photo(photo, result), photo_status(result, filters), _api_json(result), timings_text(result)

    return search


def _text_search(ready: _Ready):
    top_k = ready.starting.settings.search.top_k

    def search_text(
        words: str, top_k: int = top_k, category=None, min_price: float | None = None, max_price: float | None = None
    ):
        """Find catalog products by words, e.g. "oak bookcase" or "velvet armchair under 300".

        Args:
            words: what to look for: product names, kinds, colours, materials; "under N" / "over N"
                set a price range.
            top_k: products to return (1 to 30).
            category: optional catalog category, or list of them, to search within.
            min_price: optional lowest price of the products listed (empty or 0: none).
            max_price: optional highest price of the products listed (empty or 0: none).

        Returns:
            A sentence on what was found; the result as JSON (the words searched, the filters, and
            products with id, name, category, price, link, image, score).
        """
        engine, _ = ready()
        k = _checked(check_top_k, top_k)
        filters = _checked(read_filters, category, min_price, max_price, engine.index.table.categories)
        words = _checked(check_words, words)
        try:
            result = engine.search_text(words, k, filters)
        except QueryError as exc:
            raise gr.Error(str(exc), title="These words can't be searched", print_exception=False) from exc
        data = result.to_dict()
        relative_images(data["products"])
        return text_status(result), data

    return search_text


def _checked(check, *values):
    """`check(*values)` (search.query), its QueryError shown to the visitor as it is."""
    try:
        return check(*values)
    except QueryError as exc:
        raise gr.Error(str(exc), title="This search can't be run", print_exception=False) from exc


def _photo_path(image) -> str:
    # The event skips Gradio's preprocessing so that unreadable photos reach the engine, whose
    # messages say what is wrong; the payload is the uploaded file's record, already checked by Gradio.
    if image is None:
        raise gr.Error(
            "Add a photo first: upload one, take one with the webcam, or paste one.",
            title="No photo yet",
            print_exception=False,
        )
    path = image.get("path") if isinstance(image, dict) else None
    if not path:
        raise gr.Error(
            "The photo did not arrive; please upload it again.",
            title="This photo can't be searched",
            print_exception=False,
        )
    return path


def _api_json(result) -> dict:
    data = result.to_dict()
    for obj in data["objects"]:
        relative_images(obj["products"])
    return data
