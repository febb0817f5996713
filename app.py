"""Lookalike's web page and API: a Gradio UI over the engine's one search call.

`python app.py` reads the LOOKALIKE_* settings (and Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT),
builds the catalog index on first start, and serves. The public API is one endpoint, `/search`.
"""

from __future__ import annotations

import logging
import math
import re
import sys
from pathlib import Path

import gradio as gr
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse
from starlette.routing import Route

from core.errors import LookalikeError
from core.images import ImageError, load_image
from core.settings import Settings
from core.types import WHOLE_PHOTO, Match, SearchResult
from search.batching import SearchBatcher
from search.engine import Engine, load_engine

log = logging.getLogger("lookalike.app")

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
MAX_UPLOAD = "15mb"  # phone photos are 2-8 MB; the pixel limit in core.images guards decoding
MAX_BATCH = 8  # searches in the engine at once, run as one batch (search.batching)
# Searches waiting beyond this are refused ("Queue is full"): under load this machine serves visitors'
# own room photos at ~0.5/s (bench.load), so the last of 32 waiting is answered within about a minute.
QUEUE_SIZE = 32
MAX_TOP_K = 30
DISPLAY_SIDE = 800  # the annotated photo is sent at most this size: the page shows it 420 px high; its
# boxes cost a PNG each at this size (Gradio), 180 ms of CPU per search for 7 boxes at 800 px, 335 at 1280
WHOLE_PHOTO_LABEL = "Whole photo"
PALETTE = ("#e4572e", "#2e86ab", "#f3a712", "#4c9f70", "#a23b72", "#3b1f2b", "#17bebb", "#8f2d56",
           "#6a4c93", "#c0a000")
CSS = """
.timings { font-size: 0.8em; opacity: 0.6; }
.product-detail { min-height: 2.5em; }
.products .caption-label { white-space: normal; max-width: none; left: 0; right: 0; bottom: 0;
                           border-radius: 0; text-align: center; line-height: 1.3; }
"""


def build_demo(engine: Engine) -> gr.Blocks:
    """The page and its one public endpoint, `/search`, over a loaded `engine`; the controls start
    at the engine's settings."""
    top_k, conf = engine.settings.top_k, engine.settings.conf
    slots = engine.settings.max_objects if engine.detector else 1
    # Fixed at build time (an update would reach API clients as a raw dict): one colour per rank.
    colors = {_box_label(i, name): PALETTE[i % len(PALETTE)] for i in range(slots) for name in engine.labels}
    colors[WHOLE_PHOTO_LABEL] = PALETTE[0]
    currency = engine.index.manifest.currency
    batcher = SearchBatcher(engine, MAX_BATCH)

    def search(image, top_k: int = top_k, conf: float = conf):
        """Find the objects in a photo and, for each, the most similar catalog products.

        Args:
            image: the photo (JPEG, PNG, WebP, BMP, GIF or TIFF).
            top_k: products to return per object (1 to 30).
            conf: the score an object needs to be listed (above 0, at most 1; 1 lists only the
                whole photo): its score is the stronger of the detector's confidence and the
                catalog's agreement. Lower finds more objects.

        Returns:
            The photo with each object boxed and labelled; a sentence on what was found; the result
            as JSON (objects with label, box, score and products with id, name, category, price,
            link, score; plus timings in ms); the stage timings as text.
        """
        path = _photo_path(image)
        k, threshold = _check_controls(top_k, conf)
        try:
            photo = load_image(path, engine.settings.max_pixels)  # decoded once: searched, then shown boxed
            result = batcher.search(photo, top_k=k, conf=threshold)
        except ImageError as exc:
            raise gr.Error(str(exc), title="This photo can't be searched", print_exception=False) from exc
        return (_annotated(photo, result), _status(result), _api_json(result), _timings(result), result)

    def show_products(result: SearchResult | None):
        objects = result.objects if result else []
        tabs = [gr.Tab(visible=i < len(objects), label=_tab_label(i, objects[i]) if i < len(objects) else "")
                for i in range(slots)]
        galleries = [[(m.product.image, _caption(m, currency)) for m in objects[i].products] if i < len(objects)
                     else None for i in range(slots)]
        details = [_detail(objects[i].products[0], 0, currency) if i < len(objects) and objects[i].products
                   else "" for i in range(slots)]
        return [gr.Tabs(selected=0), *tabs, *galleries, *details]

    # No usage reports leave the machine (gradio's analytics and version check).
    with gr.Blocks(title="Lookalike: find the products in a photo", delete_cache=(3600, 3600),
                   analytics_enabled=False) as demo:
        gr.Markdown(
            "# Lookalike\n"
            "Show it a room or a piece of furniture: Lookalike finds each object in the photo and the most "
            f"similar products of the catalog ({len(engine.index):,} products from "
            f"{engine.index.manifest.source.title})."
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                photo = gr.Image(label="Your photo", sources=["upload", "webcam", "clipboard"], type="filepath",
                                 image_mode=None, height=360)
                top_k_slider = gr.Slider(1, MAX_TOP_K, value=top_k, step=1, label="Results per object")
                conf_slider = gr.Slider(0.05, 0.95, value=conf, step=0.05, label="Confidence",
                                        info="The score an object needs to be shown. Lower finds more "
                                             "objects; higher keeps only clear ones.")
                find = gr.Button("Find similar products", variant="primary")
                photos = _example_photos()
                examples = gr.Examples(photos, inputs=[photo], label="Or try one of these", elem_id="examples",
                                       api_visibility="private") if photos else None
            with gr.Column(scale=3):
                annotated = gr.AnnotatedImage(label="Objects found (click one to see its matches)", height=420,
                                              color_map=colors)
                status = gr.Markdown()
                timings = gr.Markdown(elem_classes="timings")
        with gr.Tabs() as tabs:
            tab_items, galleries, details = [], [], []
            for i in range(slots):
                with gr.Tab(f"Object {i + 1}", id=i, visible=False) as tab:
                    galleries.append(gr.Gallery(show_label=False, columns=5, height="auto", object_fit="contain",
                                                allow_preview=True, buttons=["download", "fullscreen"],
                                                elem_classes="products"))
                    details.append(gr.Markdown(elem_classes="product-detail"))
                tab_items.append(tab)
        with gr.Accordion("Result as JSON (what the /search API returns)", open=False):
            result_json = gr.JSON(show_label=False)
        last_result = gr.State()

        inputs = [photo, top_k_slider, conf_slider]
        outputs = [annotated, status, result_json, timings, last_result]
        product_outputs = [tabs, *tab_items, *galleries, *details]
        # Up to MAX_BATCH searches are in the engine at once, so that those arriving together are batched.
        gr.on([find.click, photo.upload], search, inputs, outputs, api_name="search", preprocess=False,
              concurrency_id="engine", concurrency_limit=MAX_BATCH
              ).success(show_products, last_result, product_outputs, api_visibility="private",
                        concurrency_limit=None)
        if examples:
            examples.load_input_event.success(search, inputs, outputs, preprocess=False, concurrency_id="engine",
                                              concurrency_limit=MAX_BATCH, api_visibility="private"
                                              ).success(show_products, last_result, product_outputs,
                                                        api_visibility="private", concurrency_limit=None)
        photo.clear(lambda: (None, "", None, "", None), None, outputs, api_visibility="private", queue=False
                    ).then(show_products, last_result, product_outputs, api_visibility="private")
        annotated.select(_bring_forward, None, tabs, api_visibility="private", queue=False)
        for slot, gallery_slot in enumerate(galleries):
            gallery_slot.select(_detail_for(slot, currency), last_result, details[slot], api_visibility="private",
                                queue=False)
    return demo


def launch(demo: gr.Blocks, engine: Engine, **options):
    """Serve `demo` with the app's limits; `options` go to `Blocks.launch` (e.g. server_port)."""
    # What the page shows, nothing else: the catalog thumbnails (for the galleries) and the example photos.
    served = [str(Path(engine.index.path) / "images"), *(path for [path] in _example_photos())]
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    return demo.launch(max_file_size=MAX_UPLOAD, allowed_paths=served, css=CSS, theme=gr.themes.Soft(),
                       app_kwargs={"routes": [_product_images(engine)]}, **options)


def _product_images(engine: Engine) -> Route:
    """`products/<row>.jpg`: a product's thumbnail at a URL that says nothing of where it lies on disk
    and outlives index versions."""
    products = engine.index.products

    def serve(request):
        row = request.path_params["row"]
        if row >= len(products) or not products[row].image:
            raise HTTPException(404)
        return FileResponse(products[row].image, media_type="image/jpeg")

    return Route("/products/{row:int}.jpg", serve)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probes, one line each
    try:
        engine = load_engine(Settings.from_env(), build_index=True)
    except LookalikeError as exc:
        log.error("%s", exc)
        return 2
    launch(build_demo(engine), engine)
    return 0


def _photo_path(image) -> str:
    # The event skips Gradio's preprocessing so that unreadable photos reach the engine, whose
    # messages say what is wrong; the payload is the uploaded file's record, already checked by Gradio.
    if image is None:
        raise gr.Error("Add a photo first: upload one, take one with the webcam, or paste one.", print_exception=False)
    path = image.get("path") if isinstance(image, dict) else None
    if not path:
        raise gr.Error("The photo did not arrive; please upload it again.", print_exception=False)
    return path


def _check_controls(top_k, conf) -> tuple[int, float]:
    """The controls as the engine takes them: a value of the wrong kind or out of range is refused, never rounded."""
    if not (_is_number(top_k) and float(top_k).is_integer() and 1 <= top_k <= MAX_TOP_K):
        raise gr.Error(f"top_k must be a whole number from 1 to {MAX_TOP_K}; got {_shown(top_k)}.",
                       print_exception=False)
    if not (_is_number(conf) and 0 < conf <= 1):
        raise gr.Error(f"conf must be a number above 0 and at most 1; got {_shown(conf)}.", print_exception=False)
    return int(top_k), float(conf)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shown(value) -> str:
    # Numbers are quoted as sent; anything else only by its type, so a message never echoes a payload.
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else f"a {type(value).__name__}"


def _annotated(photo, result: SearchResult):
    shown = photo.copy()
    shown.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    scale = shown.width / photo.width
    return shown, [(tuple(int(round(v * scale)) for v in o.box), WHOLE_PHOTO_LABEL if o.label == WHOLE_PHOTO else
                    _box_label(i, o.label)) for i, o in enumerate(result.objects)]


def _box_label(i: int, name: str) -> str:
    return f"{i + 1} · {name}"


def _tab_label(i: int, obj) -> str:
    if obj.label == WHOLE_PHOTO:  # searched, not scored
        return WHOLE_PHOTO_LABEL
    return f"{_box_label(i, obj.label)} {obj.score:.0%}"


def _status(result: SearchResult) -> str:
    if result.whole_image:
        return ("**No furniture or home goods recognised, so the whole photo was searched.** "
                "Lower the detection confidence to find more objects.")
    n = len(result.objects)
    return f"**Found {n} object{'s' if n != 1 else ''}.** Click a box in the photo, or a tab below, to see its matches."


def _timings(result: SearchResult) -> str:
    return " · ".join(f"{stage} {ms:.0f} ms" for stage, ms in result.timings_ms.items())


def _api_json(result: SearchResult) -> dict:
    data = result.to_dict()
    for obj in data["objects"]:
        for product in obj["products"]:
            # A URL relative to the app's address (see `_product_images`), not a path on the server.
            product["image"] = f"products/{product['row']}.jpg" if product.get("image") else None
    return data


def _caption(match: Match, currency: str | None) -> str:
    product = match.product
    parts = [product.name or product.category or f"#{product.id}", _price(product.price, currency),
             f"similarity {match.score:.2f}"]
    return " · ".join(p for p in parts if p)


def _detail(match: Match, rank: int, currency: str | None) -> str:
    product = match.product
    name = _md(product.name or product.category or f"#{product.id}")
    parts = [f"**{rank + 1}. {name}**", _md(product.category) if product.name else None,
             _md(_price(product.price, currency)), f"similarity {match.score:.2f}",
             f"[Open the product page ↗]({_url(product.link)})" if product.link else None]
    return " · ".join(p for p in parts if p)


def _detail_for(slot: int, currency: str | None):
    def detail(result: SearchResult | None, evt: gr.SelectData) -> str:
        if result is None or slot >= len(result.objects) or evt.index >= len(result.objects[slot].products):
            return ""
        return _detail(result.objects[slot].products[evt.index], evt.index, currency)
    return detail


def _bring_forward(evt: gr.SelectData):
    return gr.Tabs(selected=evt.index)


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
