"""The page's components, placed: the photo and its controls on the left, what was found on the right, a
tab of products per object below, the developers' fold at the bottom."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.settings import MAX_TOP_K
from search.engine import Engine
from search.query import MAX_WORDS
from search.starting import StartingEngine

from .pictures import box_colours
from .words import catalog_headline, words_example

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
EXAMPLE_SAMPLE = 5_000  # products the words box's example is drawn from: evenly spread over a big catalog
STARTING_TICK_S = 1.0  # how often a page served while the index is built asks how far it has come
ANY_PRICE = "0: any"


@dataclass
class Page:
    """The page's components, as `layout` places them and `web.wiring.wire` connects them."""

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
    region_hint: gr.Markdown  # how to choose a region: on the photo, once there is one
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
    box_map: gr.HTML  # the boxes drawn, for a click on the photo to find its object (page.js)
    corner: gr.State  # the region picker's first corner, until the second click

    @property
    def search_controls(self) -> list:
        """What asks for a search: each waits, disabled, until the engine is ready."""
        return [self.photo, self.words, self.find, self.box, self.find_region, self.text_query, self.find_words]


@dataclass(frozen=True)
class CatalogView:
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
    def of(cls, engine: Engine | None, slots: int = 0) -> CatalogView:
        if engine is None:
            return cls(
                "Find each piece of furniture in your photo among a shop's products. Getting ready…",
                [],
                False,
                "",
                {},
                "e.g. “white sofa”",
            )
        currency, table = engine.index.manifest.currency, engine.index.table
        return cls(
            catalog_headline(engine.index),
            list(table.categories),
            table.has_prices,
            f" ({currency})" if currency else "",
            box_colours(engine, slots or engine_slots(engine)),
            words_example(engine.index.products[:: max(1, len(engine.index) // EXAMPLE_SAMPLE)]),
        )


def layout(starting: StartingEngine) -> Page:
    """The page's components, placed. Until the engine is ready, what depends on its catalog (headline,
    filters, box colours) waits for the wiring's catalog updates."""
    catalog = CatalogView.of(starting.engine)
    headline = gr.Markdown(f"# Lookalike\n{catalog.headline}", elem_id="headline")
    status = gr.Markdown(
        starting.status, visible=starting.engine is None, elem_id="starting", elem_classes=starting_look(starting)
    )
    ticks = gr.Timer(STARTING_TICK_S, active=starting.engine is None and starting.error is None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            controls = _controls(starting, catalog)
        with gr.Column(scale=3):  # what was found, and each object's products right under it
            found = _found(starting, catalog)
    with gr.Accordion("For developers: the API's answer and the timings", open=False, elem_id="api"):
        timings = gr.Markdown(elem_classes="timings")
        result_json = gr.JSON(show_label=False)
    page = Page(
        headline, status, ticks, **controls, **found, timings=timings, result_json=result_json, corner=gr.State()
    )
    if starting.engine is None:  # until the wiring's catalog updates open them, nothing can ask for a search
        for control in page.search_controls:
            control.interactive = False
        if page.examples:
            page.examples.dataset.elem_classes = examples_look(ready=False)
    return page


def starting_look(starting: StartingEngine) -> list[str]:
    """The start's line reads as information while the index is built, as an error once a build failed."""
    return ["notice", "failed" if starting.error else "progress"]


def examples_look(ready: bool) -> list[str]:
    """The examples wait too (a Dataset cannot be disabled): page.css greys them, page.js drops their clicks."""
    return [] if ready else ["waiting"]


def _controls(starting: StartingEngine, catalog: CatalogView) -> dict:
    """The photo, its words, filters and sliders, the region picker, the words search and the examples."""
    photo = gr.Image(
        label="Your photo", sources=["upload", "webcam", "clipboard"], type="filepath", image_mode=None, height=360
    )
    words_hint = "e.g. “in green”, “velvet, under 300”"
    words = gr.Textbox(label="Add words (optional)", max_length=MAX_WORDS, elem_id="words", placeholder=words_hint)
    filters = _filters(catalog)
    search_settings = starting.settings.search
    top_k = gr.Slider(1, MAX_TOP_K, value=search_settings.top_k, step=1, label="Results per object")
    conf_hint = "The score an object needs to be shown. Lower finds more objects; higher keeps only clear ones."
    conf = gr.Slider(0.05, 0.95, value=search_settings.conf, step=0.05, label="Confidence", info=conf_hint)
    find = gr.Button("Find similar products", variant="primary")
    with gr.Accordion("Search a region you choose", open=False, elem_id="region"):
        region_hint = gr.Markdown(region_hint_text(None), elem_id="region-hint")
        picker = gr.Image(show_label=False, type="filepath", interactive=False, height=300, elem_id="picker")
        box = gr.Textbox(label="Region: x1, y1, x2, y2 in pixels of the photo", elem_id="box")
        find_region = gr.Button("Search this region")
    with gr.Row():
        text_query = gr.Textbox(
            label="Or search by words", placeholder=catalog.example, max_length=MAX_WORDS, scale=3, elem_id="text-query"
        )
        find_words = gr.Button("Search words", scale=1)
    photos = example_photos()
    examples_label = "Or try one of these"
    examples = (
        gr.Examples(photos, inputs=[photo], label=examples_label, elem_id="examples", api_visibility="private")
        if photos
        else None
    )
    return dict(
        filters,
        photo=photo,
        words=words,
        top_k=top_k,
        conf=conf,
        find=find,
        region_hint=region_hint,
        picker=picker,
        box=box,
        find_region=find_region,
        text_query=text_query,
        find_words=find_words,
        examples=examples,
    )


def region_hint_text(photo) -> str:
    """How to choose a region: in the photo shown below the hint, once a photo is added."""
    if not photo:
        return "Add a photo first: it is shown here, to click two corners of the region you want searched."
    return "Click two corners of the region in the photo below, or click an object found."


def _filters(catalog: CatalogView) -> dict:
    """The category and price filters, folded, and shown only where the catalog has categories or prices."""
    with gr.Accordion("Filters", open=False, visible=catalog.filters) as filter_box:
        categories = catalog.categories
        category = gr.Dropdown(
            categories, value=[], multiselect=True, label="Category", visible=bool(categories), elem_id="category"
        )
        with gr.Row(visible=catalog.prices) as price_row:
            # Gradio shows an empty number as 0: the label says that 0 is no bound.
            min_price = gr.Number(
                None, label=f"Lowest price{catalog.priced}", info=ANY_PRICE, minimum=0, elem_id="min-price"
            )
            max_price = gr.Number(
                None, label=f"Highest price{catalog.priced}", info=ANY_PRICE, minimum=0, elem_id="max-price"
            )
    return {"filter_box": filter_box, "price_row": price_row, "filters": [category, min_price, max_price]}


def _found(starting: StartingEngine, catalog: CatalogView) -> dict:
    """The photo with its objects marked, what was found, and a tab of products per object."""
    annotated = gr.AnnotatedImage(
        label="Objects found: click one to see its matches", height=380, color_map=catalog.colours, elem_id="found"
    )
    status = gr.Markdown(elem_id="status")
    # Every object's tab in view: wrapped onto more rows, never hidden behind Gradio's "More tabs" menu.
    with gr.Tabs(overflow_behavior="wrap") as tabs:
        tab_items, galleries, details = [], [], []
        for i in range(slots(starting)):
            with gr.Tab(f"Object {i + 1}", id=i, visible=False) as tab:
                details.append(gr.Markdown(elem_classes="product-detail"))
                galleries.append(
                    gr.Gallery(
                        show_label=False,
                        columns=4,
                        height="auto",
                        object_fit="contain",
                        allow_preview=True,
                        buttons=["download", "fullscreen"],
                        elem_classes="products",
                    )
                )
            tab_items.append(tab)
    box_map = gr.HTML(elem_id="box-map")
    return {
        "annotated": annotated,
        "status": status,
        "tabs": tabs,
        "tab_items": tab_items,
        "galleries": galleries,
        "details": details,
        "box_map": box_map,
    }


def slots(starting: StartingEngine) -> int:
    """How many objects a result can show, each in its tab."""
    return engine_slots(starting.engine) if starting.engine else starting.settings.models.max_objects


def engine_slots(engine: Engine) -> int:
    return engine.detector.max_objects if engine.detector else 1


def example_photos() -> list[list[str]]:
    if not EXAMPLES_DIR.is_dir():
        return []
    return [[str(p)] for p in sorted(EXAMPLES_DIR.iterdir()) if p.suffix.lower() in PHOTO_SUFFIXES]
