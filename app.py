"""Lookalike's entry point: `python app.py` serves the page and its API (`web/`) over the engine's one search call.

`python app.py` reads the LOOKALIKE_* settings (and Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT)
and serves. On a first start, which must build the catalog's index, the page is served at once and
says how far the build has come; searches open when it is done. The public API is two endpoints,
`/search` (a photo) and `/search_text` (words), also served as MCP tools.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import gradio as gr

from core.errors import LookalikeError
from core.settings import Settings
from index.builder.ensure import must_build
from search.engine import Engine, load_engine
from search.starting import StartingEngine
from web.cache_writes import atomic_gradio_cache_writes
from web.demo import CSS, JS, build_demo
from web.layout import example_photos
from web.thumbnails import product_images_route, thumbnail_folders

log = logging.getLogger("lookalike.app")

MAX_UPLOAD = "15mb"  # phone photos are 2-8 MB; the pixel limit in core.images guards decoding
# Searches waiting beyond this are refused ("Queue is full"): under load this machine serves visitors'
# own room photos at ~0.5/s (bench.load), so the last of 32 waiting is answered within about a minute.
QUEUE_SIZE = 32


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
    log.info(
        "Serving after %.1f s: models and index %.1f s, page %.1f s, server %.1f s.",
        time.perf_counter() - began,
        loaded - began,
        built - loaded,
        time.perf_counter() - built,
    )
    return demo, starting


def launch(demo: gr.Blocks, engine: Engine | StartingEngine, **options):
    """Serve `demo` with the app's limits; `options` go to `Blocks.launch` (e.g. server_port; with an
    engine still starting, `prevent_thread_lock=True`, so that its thumbnails can be served once it is ready)."""
    starting = engine if isinstance(engine, StartingEngine) else StartingEngine.of(engine)
    served = [*(path for [path] in example_photos())]
    if starting.engine:
        served += thumbnail_folders(starting.engine.index)
    atomic_gradio_cache_writes()
    demo.queue(default_concurrency_limit=1, max_size=QUEUE_SIZE)
    # The public endpoints are MCP tools too (at gradio_api/mcp/), described by their docstrings.
    launched = demo.launch(
        max_file_size=MAX_UPLOAD,
        allowed_paths=served,
        css=CSS,
        js=JS,
        theme=gr.themes.Soft(),
        app_kwargs={"routes": [product_images_route(starting)]},
        mcp_server=True,
        **options,
    )

    def allow_thumbnails(ready: Engine) -> None:  # the engine's once it is ready, then each new version's
        demo.allowed_paths = [
            *demo.allowed_paths,
            *(f for f in thumbnail_folders(ready.index) if f not in demo.allowed_paths),
        ]

    starting.when_ready(allow_thumbnails)
    return launched


if __name__ == "__main__":
    sys.exit(main())
