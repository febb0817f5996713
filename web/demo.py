"""The page as one Gradio app: its layout wired to the public endpoints, and the page's own CSS and JavaScript."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from search.engine import Engine
from search.starting import StartingEngine

from .endpoints import endpoints
from .layout import layout
from .wiring import wire

HERE = Path(__file__).parent
CSS = (HERE / "page.css").read_text(encoding="utf-8")
JS = (HERE / "page.js").read_text(encoding="utf-8")  # run once as the page loads


def build_demo(engine: Engine | StartingEngine) -> gr.Blocks:
    """The page and its public endpoints, `/search` and `/search_text`, over a loaded `engine` or one
    still starting (they answer that it is not ready until it is); the controls start at its settings."""
    starting = engine if isinstance(engine, StartingEngine) else StartingEngine.of(engine)
    search, search_text = endpoints(starting)
    # No usage reports leave the machine (gradio's analytics and version check).
    with gr.Blocks(
        title="Lookalike: find the products in a photo", delete_cache=(3600, 3600), analytics_enabled=False
    ) as demo:
        page = layout(starting)
        demo.load(**wire(page, starting, search, search_text))
    return demo
