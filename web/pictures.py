"""The photo as the page shows it: shrunk, its objects boxed and coloured, the region picker's marks."""

from __future__ import annotations

import json

from PIL import ImageDraw

from core.images import load_image
from core.types import WHOLE_PHOTO
from search.engine import Engine

from .words import SELECTION_LABEL, WHOLE_PHOTO_LABEL, box_label, object_label

DISPLAY_SIDE = 800  # the annotated photo is sent at most this size: the page shows it 420 px high; its
# boxes cost a PNG each at this size (Gradio), 180 ms of CPU per search for 7 boxes at 800 px, 335 at 1280
PALETTE = ("#e4572e", "#2e86ab", "#f3a712", "#4c9f70", "#a23b72", "#3b1f2b", "#17bebb", "#8f2d56", "#6a4c93", "#c0a000")


def box_colours(engine: Engine, slots: int) -> dict[str, str]:
    """Each box label's colour, one per rank; set with the page, or when the engine is ready, never by a
    search (an update would reach API clients as a raw dict)."""
    colours = {box_label(i, name): PALETTE[i % len(PALETTE)] for i in range(slots) for name in engine.labels}
    colours[WHOLE_PHOTO_LABEL] = colours[SELECTION_LABEL] = PALETTE[0]
    return colours


def drawn_objects(objects: list) -> list[int]:
    """Which objects are drawn as boxes on the photo, in the legend's order: all but the whole photo,
    which is a tab of its own, not a box over everything."""
    return [i for i, o in enumerate(objects) if _label_of(o) != WHOLE_PHOTO]


def _label_of(obj) -> str:
    return obj["label"] if isinstance(obj, dict) else obj.label


def boxes_html(data: dict | None) -> str:
    """The drawn boxes in the shown photo's pixels, in legend order, for the page's click handler (JS)."""
    objects = (data or {}).get("objects") or []
    if not objects:
        return ""
    scale = display_scale(data["image_size"])
    boxes = [[round(v * scale) for v in objects[i]["box"]] for i in drawn_objects(objects)]
    return f"<div data-boxes='{json.dumps(boxes)}'></div>"


def display_scale(size) -> float:
    """How much the photo is shrunk to be shown (`annotated_photo`): at most DISPLAY_SIDE on its longer side."""
    return min(1.0, DISPLAY_SIDE / max(size))


def annotated_photo(photo, result):
    shown = photo.copy()
    shown.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    scale = shown.width / photo.width
    objects = result.objects
    return shown, [
        (tuple(round(v * scale) for v in objects[i].box), object_label(i, objects[i].label))
        for i in drawn_objects(objects)
    ]


def picker_photo(path: str, box: tuple[int, int, int, int] | None, corner: tuple[int, int] | None = None):
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


def scaled_box(path: str, clicks: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """Two corners clicked on the picker (at its display size) as a box in pixels of the photo."""
    photo = load_image(path)
    scale = max(1.0, max(photo.size) / DISPLAY_SIDE)
    x1, y1, x2, y2 = (v * scale for v in clicks)
    return (round(min(x1, x2)), round(min(y1, y2)), round(max(x1, x2)), round(max(y1, y2)))
