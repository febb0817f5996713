"""What each control of the page does: the searches (the public endpoints among them), what a result
shows in the tabs, clicks on the photo and the region picker, and the page following the engine's start."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from search.engine import Engine
from search.starting import StartingEngine

from .endpoints import MAX_BATCH
from .layout import CatalogView, Page, examples_look, region_hint_text, starting_look
from .pictures import boxes_html, drawn_objects, picker_photo, scaled_box
from .thumbnails import thumbnail_file
from .words import caption, price_text, product_detail, shelf_detail, shelves_of

# Run in the browser after every search (a JavaScript function, as Gradio takes it).
SHOW_RESULTS = (Path(__file__).parent / "show-results.js").read_text(encoding="utf-8")


def wire(page: Page, starting: StartingEngine, search, search_text) -> dict:
    """What each control does: the searches (the public endpoints among them), then the page's own events;
    and the event that brings what the page shows of the catalog up to date, for the page's load to run."""
    shown = _shown(page, starting)
    _wire_searches(page, search, search_text, shown)
    _wire_clicks(page, starting, shown)
    return _follow(page, starting)


def _shown(page: Page, starting: StartingEngine) -> dict:
    """After every search: each object's products in its tab, the boxes for a click on the photo, and a
    words-only search clears the photo's marks."""
    outputs = [page.tabs, *page.tab_items, *page.galleries, *page.details, page.box_map, page.annotated, page.timings]
    return {
        "fn": _show_products(starting, len(page.tab_items)),
        "inputs": page.result_json,
        "outputs": outputs,
        "api_visibility": "private",
        "concurrency_limit": None,
    }


def _wire_searches(page: Page, search, search_text, shown: dict) -> None:
    inputs = [page.photo, page.top_k, page.conf, page.box, page.words, *page.filters]
    outputs = [page.annotated, page.status, page.result_json, page.timings]
    show = {"fn": None, "js": SHOW_RESULTS, "api_visibility": "private", "queue": False}  # what was found, in view
    searches = {"concurrency_id": "engine", "concurrency_limit": MAX_BATCH, "preprocess": False}
    # The photo's own searches leave the region out; "Search this region" sends it.
    whole = [page.photo, page.top_k, page.conf, gr.State(None), page.words, *page.filters]
    # The public endpoint, named "search" (the check before it is the page's own). Up to MAX_BATCH
    # searches are in the engine at once, so that those arriving together are batched.
    # Queued, as only a queued event's error reaches the visitor with its message.
    page.find_region.click(
        _check_region, [page.photo, page.box], None, api_visibility="private", concurrency_limit=None
    ).success(search, inputs, outputs, api_name="search", **searches).success(**shown).then(**show)
    # The page's own photo searches: an upload searches at once, and the button asks again only when
    # something changed (the words, the filters, the controls).
    last, again = gr.State(None), _remembered(search)
    photo_events = [page.find.click, page.photo.upload, page.words.submit]
    gr.on(photo_events, again, [last, *whole], [*outputs, last], api_visibility="private", **searches).success(
        **shown
    ).then(**show)
    words_events = [page.find_words.click, page.text_query.submit]
    words_inputs = [page.text_query, page.top_k, *page.filters]
    gr.on(
        words_events,
        search_text,
        words_inputs,
        [page.status, page.result_json],
        api_name="search_text",
        preprocess=False,
    ).success(**shown).then(**show)
    if page.examples:
        page.examples.load_input_event.success(
            again, [last, *whole], [*outputs, last], api_visibility="private", **searches
        ).success(**shown).then(**show)


def _wire_clicks(page: Page, starting: StartingEngine, shown: dict) -> None:
    """The page's own events: the photo changed or cleared, the region picker, the objects and the products."""
    own = {"api_visibility": "private", "queue": False}
    outputs = [page.annotated, page.status, page.result_json, page.timings]
    picker_outputs = [page.picker, page.corner, page.box]
    page.photo.change(
        lambda image: (picker_photo(image, None) if image else None, None, "", region_hint_text(image)),
        page.photo,
        [*picker_outputs, page.region_hint],
        **own,
    )
    page.photo.clear(lambda: (None, "", None, ""), None, outputs, **own).then(**shown)
    page.picker.select(_show_region, [page.photo, page.corner], picker_outputs, **own)
    page.annotated.select(_choose_object, [page.result_json, page.photo], [page.tabs, page.box, page.picker], **own)
    for slot, gallery in enumerate(page.galleries):
        gallery.select(_detail_for(slot, starting), page.result_json, page.details[slot], **own)


def _follow(page: Page, starting: StartingEngine) -> dict:
    """What depends on the catalog follows the start on every page shown meanwhile, and a new version of the
    index (search.starting) on every page opened after it; the search controls and the examples open with
    the engine, in the same tick that sees it ready."""
    catalog_parts = [page.headline, page.starting, page.ticks, page.filter_box, *page.filters, page.price_row]
    examples = [page.examples.dataset] if page.examples else []
    follow = {
        "fn": _catalog_updates(page, starting),  # a dict: each of these outputs, by its component
        "inputs": None,
        "outputs": [*catalog_parts, page.annotated, *page.search_controls, *examples],
        "api_visibility": "private",
        "queue": False,
    }
    if starting.engine is None:
        page.ticks.tick(**follow)
    return follow


def _catalog_updates(page: Page, starting: StartingEngine):
    made: list[tuple[Engine | None, CatalogView]] = []  # the view of the engine served last: made once
    category, min_price, max_price = page.filters

    def updates() -> dict:
        engine = starting.engine  # read once: all that follows shows the same moment of the start
        if not made or made[0][0] is not engine:
            made[:] = [(engine, CatalogView.of(engine, len(page.tab_items)))]
        catalog = made[0][1]
        ready, waiting = engine is not None, engine is None and starting.error is None
        shown = {
            page.headline: f"# Lookalike\n{catalog.headline}",
            page.starting: gr.Markdown(starting.status, visible=not ready, elem_classes=starting_look(starting)),
            page.ticks: gr.Timer(active=waiting),
            page.filter_box: gr.Accordion(visible=catalog.filters),
            category: gr.Dropdown(choices=catalog.categories, visible=bool(catalog.categories)),
            page.price_row: gr.Row(visible=catalog.prices),
            min_price: gr.Number(label=f"Lowest price{catalog.priced}"),
            max_price: gr.Number(label=f"Highest price{catalog.priced}"),
            page.annotated: gr.AnnotatedImage(color_map=catalog.colours),
            **{control: gr.update(interactive=ready) for control in page.search_controls},
            page.text_query: gr.Textbox(interactive=ready, placeholder=catalog.example),
        }
        if page.examples:
            shown[page.examples.dataset] = gr.Dataset(elem_classes=examples_look(ready))
        return shown

    return updates


def _show_products(starting: StartingEngine, slots: int):
    def show_products(data: dict | None):
        photo = gr.skip(), gr.skip()  # a photo's marks and timings stay; words alone clear them
        if data and "objects" not in data:
            photo = None, ""
        if starting.engine is None:  # a photo cleared before the engine was ready
            return [gr.Tabs(selected=0), *[gr.Tab(visible=False)] * slots, *[None] * slots, *[""] * slots, "", *photo]
        index, currency = starting.engine.index, starting.engine.index.manifest.currency
        shelves = shelves_of(data, index.products)
        tabs = [gr.Tab(visible=i < len(shelves), label=shelves[i][0] if i < len(shelves) else "") for i in range(slots)]
        galleries = [
            [(thumbnail_file(starting, product), _tile_caption(product, currency)) for product in shelves[i][1]]
            if i < len(shelves)
            else None
            for i in range(slots)
        ]
        details = [shelf_detail(shelves[i], currency) if i < len(shelves) else "" for i in range(slots)]
        return [gr.Tabs(selected=0), *tabs, *galleries, *details, boxes_html(data), *photo]

    return show_products


def _tile_caption(product: dict, currency: str | None) -> str:
    """The price on a line of its own above the name: page.css cuts the name after two lines, never the price."""
    price = price_text(product["price"], currency)
    name = caption({**product, "price": None}, currency)  # words.caption's name, without the price
    return f"{price}\n{name}" if price else name


def _show_region(image, start, evt: gr.SelectData):
    """A click on the region picker: the first sets a corner, the second the opposite one."""
    if not isinstance(image, str) or not image:
        return None, start, gr.skip()
    x, y = evt.index
    if start is None:
        return picker_photo(image, None, (x, y)), (x, y), gr.skip()
    box = scaled_box(image, (*start, x, y))
    return picker_photo(image, box), None, ", ".join(str(v) for v in box)


def _detail_for(slot: int, starting: StartingEngine):
    def detail(data: dict | None, evt: gr.SelectData) -> str:
        if starting.engine is None:
            return ""
        index = starting.engine.index
        shelves = shelves_of(data, index.products)
        if slot >= len(shelves) or evt.index >= len(shelves[slot][1]):
            return ""
        return product_detail(shelves[slot][1][evt.index], evt.index, index.manifest.currency)

    return detail


def _choose_object(data: dict | None, image, evt: gr.SelectData):
    """A click on an object in the photo (its box or its legend): its results come forward, and its box
    becomes the region to adjust."""
    objects = (data or {}).get("objects") or []
    drawn = drawn_objects(objects)
    if evt.index >= len(drawn):
        return gr.skip(), gr.skip(), gr.skip()
    chosen = drawn[evt.index]
    if not isinstance(image, str):
        return gr.Tabs(selected=chosen), gr.skip(), gr.skip()
    box = tuple(objects[chosen]["box"])
    return gr.Tabs(selected=chosen), ", ".join(str(v) for v in box), picker_photo(image, box)


def _remembered(search):
    """`search` answering the same request twice in a row (an upload searched it, then the button was
    pressed) from the last answer; `last` is the page's (request, answer)."""

    def again(last, *request):
        asked = json.dumps(request, sort_keys=True, default=str)
        if last is not None and last[0] == asked:
            return (*last[1], last)
        answer = search(*request)
        return (*answer, (asked, answer))

    return again


def _check_region(photo, box: str) -> None:
    """ "Search this region" needs a photo and a region of it: never the whole photo in its place."""
    if not photo:
        raise gr.Error(
            "Add a photo first: upload one, take one with the webcam, or paste one; then choose a region of it.",
            title="No photo yet",
            print_exception=False,
        )
    if not (box or "").strip():
        raise gr.Error(
            "Choose a region first: click two corners of it in the photo above, or click an object found.",
            title="No region chosen",
            print_exception=False,
        )
