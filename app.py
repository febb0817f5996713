"""Lookalike's web page and API: a Gradio UI over the engine's one search call.

`python app.py` reads the LOOKALIKE_* settings (and Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)
and serves. On a first start, which must build the catalog's index, the page is served at once and
says how far the build has come; searches open when it is done. The public API is two endpoints,
`/search` (a photo) and `/search_text` (words), also served as MCP tools.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from PIL import ImageDraw
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse
from starlette.routing import Route

from core.errors import LookalikeError
from core.images import ImageError, load_image
from core.settings import MAX_TOP_K, Settings
from core.types import SELECTION, WHOLE_PHOTO, Product
from index.catalog.fetch import is_url
from index.store.kinds import category_noun
from search.batching import SearchBatcher
from index.build.ensure import must_build
from search.engine import Engine, load_engine
from search.query import MAX_WORDS, QueryError, check_conf, check_top_k, check_words, read_box, read_filters
from search.starting import StartingEngine

log = logging.getLogger("lookalike.app")

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
MAX_UPLOAD = "15mb"  # phone photos are 2-8 MB; the pixel limit in core.images guards decoding
EXAMPLE_SAMPLE = 5_000  # products the words box's example is drawn from: evenly spread over a big catalog
MAX_BATCH = 8  # searches in the engine at once, run as one batch (search.batching)
# Searches waiting beyond this are refused ("Queue is full"): under load this machine serves visitors'
# own room photos at ~0.5/s (bench.load), so the last of 32 waiting is answered within about a minute.
QUEUE_SIZE = 32
DISPLAY_SIDE = 800  # the annotated photo is sent at most this size: the page shows it 420 px high; its
# boxes cost a PNG each at this size (Gradio), 180 ms of CPU per search for 7 boxes at 800 px, 335 at 1280
STARTING_TICK_S = 1.0  # how often a page served while the index is built asks how far it has come
WHOLE_PHOTO_LABEL = "Whole photo"
ANY_PRICE = "0: any"
COLOURS = ("white", "black", "grey", "beige", "brown", "blue", "green", "red", "yellow", "pink", "oak", "walnut")
SELECTION_LABEL = "Your selection"
PALETTE = ("#e4572e", "#2e86ab", "#f3a712", "#4c9f70", "#a23b72", "#3b1f2b", "#17bebb", "#8f2d56",
           "#6a4c93", "#c0a000")
CSS = """
.timings { font-size: 0.8em; opacity: 0.6; }
.product-detail { min-height: 2.5em; }
#box-map { display: none; }
#found img { cursor: pointer; }
/* Captions under the product photos, never over them. */
.products .thumbnail-item { display: flex; flex-direction: column; height: auto; }
.products .caption-label { position: static; white-space: normal; max-width: none; border-radius: 0;
                           text-align: center; line-height: 1.3; background: none; color: inherit; }
@media (max-width: 640px) {
  .products .grid-container { grid-template-columns: repeat(2, minmax(0, 1fr)) !important; }
}
"""
# A click on the marked photo chooses the smallest object box under it, as a click on its legend does:
# the boxes (in the shown image's pixels, in legend order) come with each result in #box-map.
JS = """
() => {
  document.addEventListener("click", (event) => {
    const found = document.getElementById("found");
    const map = document.querySelector("#box-map [data-boxes]");
    if (!found || !map || event.target.tagName !== "IMG" || !found.contains(event.target)) return;
    const img = event.target, rect = img.getBoundingClientRect();
    if (!img.naturalWidth) return;
    const scale = Math.min(rect.width / img.naturalWidth, rect.height / img.naturalHeight);
    const x = (event.clientX - rect.left - (rect.width - img.naturalWidth * scale) / 2) / scale;
    const y = (event.clientY - rect.top - (rect.height - img.naturalHeight * scale) / 2) / scale;
    let chosen = -1, least = Infinity;
    JSON.parse(map.dataset.boxes).forEach(([x1, y1, x2, y2], i) => {
      const area = (x2 - x1) * (y2 - y1);
      if (x >= x1 && x <= x2 && y >= y1 && y <= y2 && area < least) { chosen = i; least = area; }
    });
    const items = found.querySelectorAll(".legend-item");
    if (chosen >= 0 && items[chosen]) items[chosen].click();
  });
}
"""
# After a search, what was found comes into view: the marked photo with the products under it on a wide
# screen; on a phone, where the marked photo fills the screen, the products themselves.
# The products' tabs are drawn a moment after the event ends; until then the page may be too short to scroll.
SHOW_RESULTS = """() => {
  const narrow = window.matchMedia("(max-width: 640px)").matches;
  const show = () => document.getElementById(narrow ? "status" : "found")?.scrollIntoView({block: "start"});
  requestAnimationFrame(() => setTimeout(show, 100));
}"""


@dataclass
class Page:
    """The page's components, as `_layout` places them and `_wire` connects them."""

    headline: gr.Markdown
    starting: gr.Markdown  # how far the start has come, until the engine is ready
    ticks: gr.Timer  # asks for it while the engine starts
    filter_box: gr.Accordion
    price_row: gr.Row
    photo: gr.Image
    words: gr.Textbox
    filters: list  # category, lowest and highest price: the endpoints' last three parameters
    top_k: gr.Slider
    conf: gr.Slider
    find: gr.Button
    picker: gr.Image
    box: gr.Textbox
    find_region: gr.Button
    text_query: gr.Textbox
    find_words: gr.Button
    examples: gr.Examples | None
    annotated: gr.AnnotatedImage
    status: gr.Markdown
    timings: gr.Markdown
    tabs: gr.Tabs
    tab_items: list
    galleries: list
    details: list
    result_json: gr.JSON
    box_map: gr.HTML  # the boxes drawn, for a click on the photo to find its object (JS)
    corner: gr.State  # the region picker's first corner, until the second click


def build_demo(engine: Engine | StartingEngine) -> gr.Blocks:
    """The page and its public endpoints, `/search` and `/search_text`, over a loaded `engine` or one
    still starting (they answer that it is not ready until it is); the controls start at its settings."""
    starting = engine if isinstance(engine, StartingEngine) else StartingEngine.of(engine)
    search, search_text = _endpoints(starting)
    # No usage reports leave the machine (gradio's analytics and version check).
    with gr.Blocks(title="Lookalike: find the products in a photo", delete_cache=(3600, 3600),
                   analytics_enabled=False) as demo:
        page = _layout(starting)
        demo.load(**_wire(page, starting, search, search_text))
    return demo


def _endpoints(starting: StartingEngine):
    """The two public endpoints over the engine; their names, parameters and docstrings are the API and
    the MCP tools' descriptions."""
    top_k, conf = starting.settings.search.top_k, starting.settings.search.conf
    batchers: list[SearchBatcher] = []  # one, made when the engine is ready; it runs whichever engine serves
    made = threading.Lock()

    def ready() -> tuple[Engine, SearchBatcher]:
        engine = starting.engine
        if engine is None:
            raise gr.Error(_not_ready(starting), title="Not ready yet", print_exception=False)
        with made:
            if not batchers:
                batchers.append(SearchBatcher(engine, MAX_BATCH))
            batchers[0].engine = engine  # a new version of the index, from the next batch on
            return engine, batchers[0]

    def search(image, top_k: int = top_k, conf: float = conf, box=None, words: str | None = None, category=None,
               min_price: float | None = None, max_price: float | None = None):
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
        return _annotated(photo, result), _status(result), _api_json(result), _timings(result)

    def search_text(words: str, top_k: int = top_k, category=None, min_price: float | None = None,
                    max_price: float | None = None):
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
        _relative_images(data["products"])
        found = len(result.products)
        status = (f"**{found} product{'s' if found != 1 else ''} for “{_md(result.words)}”.**" if found else
                  f"**No product of the catalog matches “{_md(result.words)}”.** Try other words, or a photo.")
        if found and result.unknown_words:
            unknown = " or ".join(f"“{_md(w)}”" for w in result.unknown_words)
            status += f" Nothing in the catalog mentions {unknown}: these match the other words."
        return status, data

    return search, search_text


def _not_ready(starting: StartingEngine) -> str:
    if starting.error:
        return f"Search is unavailable: {starting.error}"
    if starting.total:
        return (f"Still indexing the catalog, {starting.share:.0%} done ({starting.done:,} of {starting.total:,} "
                f"products). Search opens when it is done; try again in a minute.")
    return "Still starting: reading the catalog and loading the models. Try again in a minute."


def _checked(check, *values):
    """`check(*values)` (search.query), its QueryError shown to the visitor as it is."""
    try:
        return check(*values)
    except QueryError as exc:
        raise gr.Error(str(exc), title="This search can't be run", print_exception=False) from exc


def _layout(starting: StartingEngine) -> Page:
    """The page's components, placed: the photo and its controls on the left, what was found on the
    right, a tab of products per object below. Until the engine is ready, what depends on its
    catalog (headline, filters, box colours) waits for `_catalog_updates`."""
    catalog = _CatalogView.of(starting.engine)
    headline = gr.Markdown(f"# Lookalike\n{catalog.headline}", elem_id="headline")
    status = gr.Markdown(starting.status, visible=starting.engine is None, elem_id="starting")
    ticks = gr.Timer(STARTING_TICK_S, active=starting.engine is None and starting.error is None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            photo = gr.Image(label="Your photo", sources=["upload", "webcam", "clipboard"], type="filepath",
                             image_mode=None, height=360)
            words = gr.Textbox(label="Add words (optional)", max_length=MAX_WORDS, elem_id="words",
                               placeholder="e.g. “in green”, “velvet, under 300”")
            with gr.Accordion("Filters", open=False, visible=catalog.filters) as filter_box:
                category = gr.Dropdown(catalog.categories, value=[], multiselect=True, label="Category",
                                       visible=bool(catalog.categories), elem_id="category")
                with gr.Row(visible=catalog.prices) as price_row:
                    # Gradio shows an empty number as 0: the label says that 0 is no bound.
                    min_price = gr.Number(None, label=f"Lowest price{catalog.priced}", info=ANY_PRICE, minimum=0,
                                          elem_id="min-price")
                    max_price = gr.Number(None, label=f"Highest price{catalog.priced}", info=ANY_PRICE, minimum=0,
                                          elem_id="max-price")
            search_settings = starting.settings.search
            top_k = gr.Slider(1, MAX_TOP_K, value=search_settings.top_k, step=1, label="Results per object")
            conf = gr.Slider(0.05, 0.95, value=search_settings.conf, step=0.05, label="Confidence",
                             info="The score an object needs to be shown. Lower finds more "
                                  "objects; higher keeps only clear ones.")
            find = gr.Button("Find similar products", variant="primary")
            with gr.Accordion("Search a region you choose", open=False, elem_id="region"):
                gr.Markdown("Click two corners of the region in the photo below, or click an object found.")
                picker = gr.Image(show_label=False, type="filepath", interactive=False, height=300, elem_id="picker")
                box = gr.Textbox(label="Region: x1, y1, x2, y2 in pixels of the photo", elem_id="box")
                find_region = gr.Button("Search this region")
            with gr.Row():
                text_query = gr.Textbox(label="Or search by words", placeholder=catalog.example,
                                        max_length=MAX_WORDS, scale=3, elem_id="text-query")
                find_words = gr.Button("Search words", scale=1)
            photos = _example_photos()
            examples = gr.Examples(photos, inputs=[photo], label="Or try one of these", elem_id="examples",
                                   api_visibility="private") if photos else None
        with gr.Column(scale=3):  # what was found, and each object's products right under it
            annotated = gr.AnnotatedImage(label="Objects found: click one to see its matches", height=380,
                                          color_map=catalog.colours, elem_id="found")
            found = gr.Markdown(elem_id="status")
            with gr.Tabs() as tabs:
                tab_items, galleries, details = [], [], []
                for i in range(_slots(starting)):
                    with gr.Tab(f"Object {i + 1}", id=i, visible=False) as tab:
                        details.append(gr.Markdown(elem_classes="product-detail"))
                        galleries.append(gr.Gallery(show_label=False, columns=4, height="auto", object_fit="contain",
                                                    allow_preview=True, buttons=["download", "fullscreen"],
                                                    elem_classes="products"))
                    tab_items.append(tab)
            box_map = gr.HTML(elem_id="box-map")
    with gr.Accordion("For developers: the API's answer and the timings", open=False, elem_id="api"):
        timings = gr.Markdown(elem_classes="timings")
        result_json = gr.JSON(show_label=False)
    return Page(headline, status, ticks, filter_box, price_row, photo, words, [category, min_price, max_price], top_k,
                conf, find, picker, box, find_region, text_query, find_words, examples, annotated, found, timings, tabs,
                tab_items, galleries, details, result_json, box_map, gr.State())


def _wire(page: Page, starting: StartingEngine, search, search_text) -> dict:
    """What each control does: the searches (the public endpoints among them), then the page's own events;
    and the event that brings what the page shows of the catalog up to date, for the page's load to run."""
    inputs = [page.photo, page.top_k, page.conf, page.box, page.words, *page.filters]
    outputs = [page.annotated, page.status, page.result_json, page.timings]
    # After every search: each object's products in its tab, the boxes for a click on the photo, and a
    # words-only search clears the photo's marks; then what was found comes into view.
    shown = dict(fn=_show_products(starting, len(page.tab_items)), inputs=page.result_json,
                 outputs=[page.tabs, *page.tab_items, *page.galleries, *page.details, page.box_map, page.annotated,
                          page.timings], api_visibility="private", concurrency_limit=None)
    show = dict(fn=None, js=SHOW_RESULTS, api_visibility="private", queue=False)
    searches = dict(concurrency_id="engine", concurrency_limit=MAX_BATCH, preprocess=False)
    # The photo's own searches leave the region out; "Search this region" sends it.
    whole = [page.photo, page.top_k, page.conf, gr.State(None), page.words, *page.filters]
    # The public endpoint, named "search" (the check before it is the page's own). Up to MAX_BATCH
    # searches are in the engine at once, so that those arriving together are batched.
    # Queued, as only a queued event's error reaches the visitor with its message.
    page.find_region.click(_check_region, page.box, None, api_visibility="private", concurrency_limit=None
                           ).success(search, inputs, outputs, api_name="search", **searches
                                     ).success(**shown).then(**show)
    # The page's own photo searches: an upload searches at once, and the button asks again only when
    # something changed (the words, the filters, the controls).
    last, again = gr.State(None), _remembered(search)
    gr.on([page.find.click, page.photo.upload, page.words.submit], again, [last, *whole], [*outputs, last],
          api_visibility="private", **searches).success(**shown).then(**show)
    gr.on([page.find_words.click, page.text_query.submit], search_text, [page.text_query, page.top_k, *page.filters],
          [page.status, page.result_json], api_name="search_text", preprocess=False
          ).success(**shown).then(**show)
    if page.examples:
        page.examples.load_input_event.success(again, [last, *whole], [*outputs, last], api_visibility="private",
                                               **searches).success(**shown).then(**show)
    page.photo.change(lambda image: (_picker(image, None) if image else None, None, ""), page.photo,
                      [page.picker, page.corner, page.box], api_visibility="private", queue=False)
    page.photo.clear(lambda: (None, "", None, ""), None, outputs, api_visibility="private", queue=False
                     ).then(**shown)
    page.picker.select(_show_region, [page.photo, page.corner], [page.picker, page.corner, page.box],
                       api_visibility="private", queue=False)
    page.annotated.select(_choose_object, [page.result_json, page.photo], [page.tabs, page.box, page.picker],
                          api_visibility="private", queue=False)
    for slot, gallery in enumerate(page.galleries):
        gallery.select(_detail_for(slot, starting), page.result_json, page.details[slot], api_visibility="private",
                       queue=False)
    # What depends on the catalog follows the start on every page shown meanwhile, and a new version of the
    # index (search.starting) on every page opened after it.
    follow = dict(fn=_catalog_updates(starting, len(page.tab_items)), inputs=None,
                  outputs=[page.headline, page.starting, page.ticks, page.filter_box, page.filters[0],
                           page.price_row, *page.filters[1:], page.annotated, page.text_query],
                  api_visibility="private", queue=False)
    if starting.engine is None:
        page.ticks.tick(**follow)
    return follow


@dataclass(frozen=True)
class _CatalogView:
    """What the page shows of its catalog: before the engine is ready, a placeholder."""

    headline: str
    categories: list[str]
    prices: bool
    priced: str  # " (HKD)" in the price fields' labels, where the catalog names its currency
    colours: dict[str, str]
    example: str  # the words box's example, drawn from what the catalog sells

    @property
    def filters(self) -> bool:
        return bool(self.categories) or self.prices

    @classmethod
    def of(cls, engine: Engine | None, slots: int = 0) -> "_CatalogView":
        if engine is None:
            return cls("Find each piece of furniture in your photo among a shop's products. Getting ready…", [],
                       False, "", {}, "e.g. “white sofa”")
        currency, table = engine.index.manifest.currency, engine.index.table
        return cls(_headline(engine.index), list(table.categories), table.has_prices,
                   f" ({currency})" if currency else "", _colours(engine, slots or _engine_slots(engine)),
                   _words_example(engine.index.products[::max(1, len(engine.index) // EXAMPLE_SAMPLE)]))


def _words_example(products: list[Product]) -> str:
    """“white sofa”: the catalog's most common kind of product, in its most common colour."""
    nouns = Counter(category_noun(p.category) for p in products if p.category)
    nouns.pop("", None)
    text = " ".join(" ".join(filter(None, (p.name, *p.attributes.values()))) for p in products).lower()
    colours = Counter({c: n for c in COLOURS if (n := len(re.findall(rf"\b{c}\b", text)))})
    noun = nouns.most_common(1)[0][0] if nouns else "sofa"
    return f"e.g. “{colours.most_common(1)[0][0] + ' ' if colours else ''}{noun}”"


def _catalog_updates(starting: StartingEngine, slots: int):
    made: list[tuple[Engine | None, _CatalogView]] = []  # the view of the engine served last: made once

    def updates():
        engine = starting.engine
        if not made or made[0][0] is not engine:
            made[:] = [(engine, _CatalogView.of(engine, slots))]
        catalog = made[0][1]
        waiting = starting.engine is None and starting.error is None
        return (f"# Lookalike\n{catalog.headline}", gr.Markdown(starting.status, visible=starting.engine is None),
                gr.Timer(active=waiting), gr.Accordion(visible=catalog.filters),
                gr.Dropdown(choices=catalog.categories, visible=bool(catalog.categories)),
                gr.Row(visible=catalog.prices), gr.Number(label=f"Lowest price{catalog.priced}"),
                gr.Number(label=f"Highest price{catalog.priced}"), gr.AnnotatedImage(color_map=catalog.colours),
                gr.Textbox(placeholder=catalog.example))
    return updates


def _slots(starting: StartingEngine) -> int:
    """How many objects a result can show, each in its tab."""
    return _engine_slots(starting.engine) if starting.engine else starting.settings.models.max_objects


def _engine_slots(engine: Engine) -> int:
    return engine.detector.max_objects if engine.detector else 1


def _colours(engine: Engine, slots: int) -> dict[str, str]:
    """Each box label's colour, one per rank; set with the page, or when the engine is ready, never by a
    search (an update would reach API clients as a raw dict)."""
    colours = {_box_label(i, name): PALETTE[i % len(PALETTE)] for i in range(slots) for name in engine.labels}
    colours[WHOLE_PHOTO_LABEL] = colours[SELECTION_LABEL] = PALETTE[0]
    return colours


def _show_products(starting: StartingEngine, slots: int):
    def show_products(data: dict | None):
        photo = gr.skip(), gr.skip()  # a photo's marks and timings stay; words alone clear them
        if data and "objects" not in data:
            photo = None, ""
        if starting.engine is None:  # a photo cleared before the engine was ready
            return [gr.Tabs(selected=0), *[gr.Tab(visible=False)] * slots, *[None] * slots, *[""] * slots, "", *photo]
        index, currency = starting.engine.index, starting.engine.index.manifest.currency
        shelves = _shelves(data, index.products)
        tabs = [gr.Tab(visible=i < len(shelves), label=shelves[i][0] if i < len(shelves) else "")
                for i in range(slots)]
        galleries = [[(_thumbnail_file(starting, product), _caption(product, currency)) for product in shelves[i][1]]
                     if i < len(shelves) else None for i in range(slots)]
        details = [_shelf_detail(shelves[i], currency) if i < len(shelves) else "" for i in range(slots)]
        return [gr.Tabs(selected=0), *tabs, *galleries, *details, _box_map(data), *photo]
    return show_products


def _drawn(objects: list) -> list[int]:
    """Which objects are drawn as boxes on the photo, in the legend's order: all but the whole photo,
    which is a tab of its own, not a box over everything."""
    return [i for i, o in enumerate(objects) if _label_of(o) != WHOLE_PHOTO]


def _label_of(obj) -> str:
    return obj["label"] if isinstance(obj, dict) else obj.label


def _box_map(data: dict | None) -> str:
    """The drawn boxes in the shown photo's pixels, in legend order, for the page's click handler (JS)."""
    objects = (data or {}).get("objects") or []
    if not objects:
        return ""
    scale = _display_scale(data["image_size"])
    boxes = [[round(v * scale) for v in objects[i]["box"]] for i in _drawn(objects)]
    return f"<div data-boxes='{json.dumps(boxes)}'></div>"


def _display_scale(size) -> float:
    """How much the photo is shrunk to be shown (`_annotated`): at most DISPLAY_SIDE on its longer side."""
    return min(1.0, DISPLAY_SIDE / max(size))


def _show_region(image, start, evt: gr.SelectData):
    """A click on the region picker: the first sets a corner, the second the opposite one."""
    if not isinstance(image, str) or not image:
        return None, start, gr.skip()
    x, y = evt.index
    if start is None:
        return _picker(image, None, (x, y)), (x, y), gr.skip()
    box = _scaled_box(image, (*start, x, y))
    return _picker(image, box), None, ", ".join(str(v) for v in box)


def launch(demo: gr.Blocks, engine: Engine | StartingEngine, **options):
    """Serve `demo` with the app's limits; `options` go to `Blocks.launch` (e.g. server_port; with an
    engine still starting, `prevent_thread_lock=True`, so that its thumbnails can be served once it is ready)."""
    starting = engine if isinstance(engine, StartingEngine) else StartingEngine.of(engine)
    served = [*(path for [path] in _example_photos())]
    if starting.engine:
        served += _thumbnail_folders(starting.engine.index)
    _atomic_gradio_cache_writes()
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    # The public endpoints are MCP tools too (at gradio_api/mcp/), described by their docstrings.
    launched = demo.launch(max_file_size=MAX_UPLOAD, allowed_paths=served, css=CSS, js=JS, theme=gr.themes.Soft(),
                           app_kwargs={"routes": [_product_images(starting)]}, mcp_server=True, **options)

    def allow_thumbnails(ready: Engine) -> None:  # the engine's once it is ready, then each new version's
        demo.allowed_paths = [*demo.allowed_paths,
                              *(f for f in _thumbnail_folders(ready.index) if f not in demo.allowed_paths)]

    starting.when_ready(allow_thumbnails)
    return launched


def _atomic_gradio_cache_writes() -> None:
    """Gradio (6.31) saves a returned picture (the boxed photo, each box's mask) at a path named by its
    content with a plain `write_bytes`: the file is truncated, then written. Searches with the same
    answer (a crowd trying an example photo) rewrite it while other clients download it, and a download
    that opens it truncated ends with the connection closed mid-body, "peer closed connection without
    sending complete message body (received 0 bytes, expected N)" (issue 25). Written under a temporary
    name and renamed into place, the path always holds the whole file (the same bytes, by its name)."""
    import tempfile
    from gradio import processing_utils as saving

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = saving.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / saving.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        path = (folder / f"{name}.{format}").resolve()
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as part:
            part.write(data)
        os.chmod(part.name, 0o644)
        os.replace(part.name, path)
        return str(path)

    saving.save_pil_to_cache = save_pil_to_cache  # also what save_img_array_to_cache calls


def _thumbnail_folders(index) -> list[str]:
    """Where the catalog thumbnails are, for Gradio's allowed paths: what the page shows, nothing else
    (besides the example photos). Gradio checks where a link leads, and a Hub index's files are links
    into the Hub cache's blobs/ folder, which holds that index repository's files alone."""
    folders = [str(index.thumbnails)]
    first = next(index.thumbnails.glob("*.jpg"), None) if index.thumbnails.is_dir() else None  # none: all links
    if first and first.resolve().parent != first.parent:
        folders.append(str(first.resolve().parent))
    return folders


def _product_images(starting: StartingEngine) -> Route:
    """`products/<version>/<row>.jpg`: a product's thumbnail at a URL that says nothing of where it lies
    on disk, for the version served and the one before it (`StartingEngine.thumbnail`)."""
    def serve(request):
        path = starting.thumbnail(request.path_params["version"], request.path_params["row"])
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, media_type="image/jpeg")

    return Route("/products/{version}/{row:int}.jpg", serve)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probes, one line each
    # Gradio switches matplotlib to Agg around every request, importing it at the first (0.1 s here), and
    # with no backend named, finding the default one imports pyplot too (0.35 s): name it, import it now.
    os.environ.setdefault("MPLBACKEND", "agg")
    import matplotlib  # noqa: F401
    try:
        demo, _ = serve(Settings.from_env())
    except LookalikeError as exc:
        log.error("%s", exc)
        return 2
    demo.block_thread()
    return 0


def serve(settings: Settings, **options) -> tuple[gr.Blocks, StartingEngine]:
    """The app served (`options` go to `launch`), and its engine. An index that must be built is built
    while the page is served, which says how far it has come; otherwise the engine is loaded first."""
    began = time.perf_counter()
    reason = must_build(settings.catalog, settings.models)
    if reason:
        log.info("Serving the page now and building the index meanwhile: %s.", reason)
        starting = StartingEngine(settings).start()
    else:
        engine = load_engine(settings, build_index=True)
        engine.warm_up()
        starting = StartingEngine(settings, engine)
    loaded = time.perf_counter()
    demo = build_demo(starting)
    built = time.perf_counter()
    launch(demo, starting, prevent_thread_lock=True, **options)
    starting.follow()  # a new version of the index (python -m index update) is served without a restart
    log.info("Serving after %.1f s: models and index %.1f s, page %.1f s, server %.1f s.", time.perf_counter() - began,
             loaded - began, built - loaded, time.perf_counter() - built)
    return demo, starting


def _headline(index) -> str:
    """What the page does and which catalog it searches, with the catalog's credit, in one line."""
    source = index.manifest.source
    products = index.table.distinct_products
    credit = f" ({source.credit})" if source.credit else ""  # the operator's Markdown, from the settings
    return (f"Find each piece of furniture in your photo among **{products:,} products of {_md(source.title)}**"
            f"{credit}: upload a photo, try an example, or search by words.")


def _photo_path(image) -> str:
    # The event skips Gradio's preprocessing so that unreadable photos reach the engine, whose
    # messages say what is wrong; the payload is the uploaded file's record, already checked by Gradio.
    if image is None:
        raise gr.Error("Add a photo first: upload one, take one with the webcam, or paste one.", title="No photo yet",
                       print_exception=False)
    path = image.get("path") if isinstance(image, dict) else None
    if not path:
        raise gr.Error("The photo did not arrive; please upload it again.", title="This photo can't be searched",
                       print_exception=False)
    return path


def _annotated(photo, result):
    shown = photo.copy()
    shown.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    scale = shown.width / photo.width
    objects = result.objects
    return shown, [(tuple(int(round(v * scale)) for v in objects[i].box), _object_label(i, objects[i].label))
                   for i in _drawn(objects)]


def _object_label(i: int, label: str) -> str:
    return {WHOLE_PHOTO: WHOLE_PHOTO_LABEL, SELECTION: SELECTION_LABEL}.get(label) or _box_label(i, label)


def _box_label(i: int, name: str) -> str:
    return f"{i + 1} · {name}"


def _status(result) -> str:
    if result.whole_image:
        text = ("**No furniture or home goods recognised, so the whole photo was searched.** "
                "Lower the detection confidence to find more objects.")
    elif result.objects[0].label == SELECTION:
        text = "**Your region was searched.**"
    else:
        n = sum(o.label != WHOLE_PHOTO for o in result.objects)
        whole = " (and the whole photo)" if n < len(result.objects) else ""
        text = (f"**Found {n} object{'s' if n != 1 else ''}{whole}.** Click a box in the photo, or a tab below, "
                "to see its matches.")
    far = sum(o.close_match is False for o in result.objects)
    if far and far == len(result.objects):
        text += " **The catalog has nothing close to this:** the products below are the nearest it has, not matches."
    elif far:
        text += f" The catalog has nothing close to {far} of them (marked “nothing close”)."
    return text


def _timings(result) -> str:
    return " · ".join(f"{stage} {ms:.0f} ms" for stage, ms in result.timings_ms.items())


def _api_json(result) -> dict:
    data = result.to_dict()
    for obj in data["objects"]:
        _relative_images(obj["products"])
    return data


def _relative_images(products: list[dict]) -> None:
    for product in products:
        # A URL relative to the app's address (see `_product_images`), not a path on the server; it names the
        # index version whose row it is, as rows change from one version to the next.
        image = product.get("image")
        if image and not is_url(image):  # a web link (LOOKALIKE_THUMBNAILS=link) is shown as it is
            product["image"] = f"products/{Path(image).parent.parent.name}/{product['row']}.jpg"


def _thumbnail_file(starting: StartingEngine, product: dict) -> str | None:
    """The file of a product's thumbnail, from its URL in an endpoint's JSON (`_relative_images`), or the
    web link it is."""
    if is_url(product.get("image")):
        return product["image"]
    _, version, name = (product.get("image") or "//").split("/", 2)
    path = starting.thumbnail(version, int(name.removesuffix(".jpg"))) if name.endswith(".jpg") else None
    return str(path) if path else None


def _shelves(data: dict | None, products: list[Product]) -> list[tuple[str, list[dict], dict]]:
    """What the result tabs show, read from an endpoint's JSON (the page shows what the API returns):
    (tab label, product dicts, the object's dict) per tab."""
    if not data:
        return []
    if "objects" not in data:  # /search_text: one list, when anything matched (its status says when not)
        return [(f"Words: {data['words']}", data["products"], {})] if data["products"] else []
    shelves = []
    for i, obj in enumerate(data["objects"]):
        label = _object_label(i, obj["label"])
        if obj.get("close_match") is False:
            label += " · nothing close"
        shelves.append((label, obj["products"], obj))
    return shelves


def _shelf_detail(shelf, currency: str | None) -> str:
    _, found, obj = shelf
    if not found:
        return "**No product of the catalog is within the filters.**"
    detail = _detail(found[0], 0, currency)
    if obj.get("close_match") is False:
        return "**The catalog has nothing close to this;** these are the nearest it has. " + detail
    return detail  # "close" is not a promise that the first is the product (README: "Nothing close")


def _caption(product: dict, currency: str | None) -> str:
    # No number: the list's order is the ranking, and the tab says whether anything is close.
    parts = [product["name"] or product["category"] or f"#{product['id']}", _price(product["price"], currency)]
    return " · ".join(p for p in parts if p)


def _detail(product: dict, rank: int, currency: str | None) -> str:
    name = _md(product["name"] or product["category"] or f"#{product['id']}")
    parts = [f"**{rank + 1}. {name}**", _md(product["category"]) if product["name"] else None,
             _md(_price(product["price"], currency)),
             f"[Open the product page ↗]({_url(product['link'])})" if product["link"] else None]
    return " · ".join(p for p in parts if p)


def _detail_for(slot: int, starting: StartingEngine):
    def detail(data: dict | None, evt: gr.SelectData) -> str:
        if starting.engine is None:
            return ""
        index = starting.engine.index
        shelves = _shelves(data, index.products)
        if slot >= len(shelves) or evt.index >= len(shelves[slot][1]):
            return ""
        return _detail(shelves[slot][1][evt.index], evt.index, index.manifest.currency)
    return detail


def _choose_object(data: dict | None, image, evt: gr.SelectData):
    """A click on an object in the photo (its box or its legend): its results come forward, and its box
    becomes the region to adjust."""
    objects = (data or {}).get("objects") or []
    drawn = _drawn(objects)
    if evt.index >= len(drawn):
        return gr.skip(), gr.skip(), gr.skip()
    chosen = drawn[evt.index]
    if not isinstance(image, str):
        return gr.Tabs(selected=chosen), gr.skip(), gr.skip()
    box = tuple(objects[chosen]["box"])
    return gr.Tabs(selected=chosen), ", ".join(str(v) for v in box), _picker(image, box)


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


def _check_region(box: str) -> None:
    """"Search this region" needs a region: never the whole photo in its place."""
    if not (box or "").strip():
        raise gr.Error("Choose a region first: click two corners of it in the photo above, or click an object "
                       "found.", title="No region chosen", print_exception=False)


def _picker(path: str, box: tuple[int, int, int, int] | None, corner: tuple[int, int] | None = None):
    """The photo as the region picker shows it (at most DISPLAY_SIDE), with the region or first corner drawn."""
    shown = load_image(path).copy()
    scale = min(1.0, DISPLAY_SIDE / max(shown.size))
    shown.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    draw = ImageDraw.Draw(shown)
    width = max(2, shown.width // 200)
    if box is not None:
        draw.rectangle([v * scale for v in box], outline=PALETTE[0], width=width)
    if corner is not None:
        x, y = corner
        draw.ellipse([x - 3 * width, y - 3 * width, x + 3 * width, y + 3 * width], fill=PALETTE[0])
    return shown


def _scaled_box(path: str, clicks: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """Two corners clicked on the picker (at its display size) as a box in pixels of the photo."""
    photo = load_image(path)
    scale = max(1.0, max(photo.size) / DISPLAY_SIDE)
    x1, y1, x2, y2 = (v * scale for v in clicks)
    return (int(round(min(x1, x2))), int(round(min(y1, y2))), int(round(max(x1, x2))), int(round(max(y1, y2))))


def _price(price, currency: str | None) -> str | None:
    if price is None:
        return None
    if isinstance(price, (int, float)):
        amount = f"{price:,.0f}" if float(price).is_integer() else f"{price:,.2f}"
        return f"{currency} {amount}" if currency else amount
    return str(price)


def _md(text: str | None) -> str | None:
    # Catalog text goes into Markdown: neutralise its syntax so a name cannot become a link or markup.
    return re.sub(r"([\\`*_\[\]()<>#|!])", r"\\\1", text) if text else text


def _url(link: str) -> str:
    # Characters that would end a Markdown link destination early.
    return link.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _example_photos() -> list[list[str]]:
    if not EXAMPLES_DIR.is_dir():
        return []
    return [[str(p)] for p in sorted(EXAMPLES_DIR.iterdir()) if p.suffix.lower() in PHOTO_SUFFIXES]


if __name__ == "__main__":
    sys.exit(main())
