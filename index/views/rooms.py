"""Views of the catalog's photos as a shopper's photo shows their products: what a build measures its
photos' hubness on (`index.builder.hubbed`), and an adaptation's training pairs (`train.adapt`).

A catalog photo shows its product alone on a plain background. In a room the same product is
smaller, lit otherwise, partly hidden by others and framed with what stands around it. A view is
such a crop made from the catalog alone: the product cut out (`index.views.synthetic`), pasted with a few
others into a plain room, and cut out again as the engine cuts a detection (padded, centred on a
square of the catalog's background). A photo without a plain background gives a part of itself instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from core.boxes import clip_boxes, letterbox, pad_boxes

from .synthetic import SCENE_SIZE, compose, cut_out, room

# Products pasted into a room, in view of one another: 1 to this many (one alone, as a close-up photo shows it).
MOST_PER_ROOM = 3
BOX_JITTER = 0.1


def room_views(
    photos: Sequence[Image.Image], per_photo: int, background: tuple[int, int, int], padding: float, seed: int = 0
) -> Iterator[tuple[Image.Image, int]]:
    """`per_photo` views of each of `photos` (RGB; a sequence that may decode them when asked), as (view,
    index of its photo) pairs, fewer where one hid another in its room; `background` and `padding` are
    the engine's, which it cuts a detection with (`search.engine.Engine._crops`)."""
    rng = np.random.default_rng(seed)
    pending = []  # cutouts waiting for their room
    room_for = MOST_PER_ROOM
    for row in (int(row) for _ in range(per_photo) for row in rng.permutation(len(photos))):
        photo = photos[row]
        cutout = cut_out(photo, row)
        if cutout is None:
            part = _part(photo, rng)
            yield letterbox(part, (0, 0, *part.size), background), row
            continue
        pending.append(cutout)
        if len(pending) >= room_for:
            yield from _in_a_room(rng, pending, photos, background, padding)
            pending, room_for = [], int(rng.integers(1, MOST_PER_ROOM + 1))
    yield from _in_a_room(rng, pending, photos, background, padding)


def prepared_views(
    photos: Any,
    per_photo: int,
    background: tuple[int, int, int],
    padding: float,
    seed: int,
    batch: int,
    prepare: Callable[[list[Image.Image]], Any],
) -> Iterator[tuple[np.ndarray, Any]]:
    """`room_views` of `photos` (catalog photos with the index `rows` they are of: `index.views.embedded.Thumbnails`),
    `batch` at a time: the rows they show (int64) and what `prepare` (an encoder's) makes of them. Made on a
    thread of their own: making the views costs about what embedding them does."""
    views = room_views(photos, per_photo, background, padding, seed)

    def ready_next() -> tuple[np.ndarray, Any]:
        made = list(islice(views, batch))
        shown = np.array([photos.rows[i] for _, i in made], np.int64)
        return shown, prepare([view for view, _ in made]) if made else None

    with ThreadPoolExecutor(1) as ahead:
        coming = ahead.submit(ready_next)
        while len((readied := coming.result())[0]):
            coming = ahead.submit(ready_next)
            yield readied


def _in_a_room(rng: np.random.Generator, cutouts: list, photos, background: tuple[int, int, int], padding: float):
    if not cutouts:
        return
    scene, objects = compose(rng, cutouts, every=True, backdrop=_backdrop(rng, photos, SCENE_SIZE))
    # Warm or cool light over the whole room, and a camera's softness.
    scene = Image.fromarray(np.clip(np.asarray(scene, np.float32) * rng.uniform(0.85, 1.1, 3), 0, 255).astype(np.uint8))
    scene = scene.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
    for obj in objects:  # those hidden mostly by the others are left out
        box = np.array(obj.xyxy, np.float64)
        # A detector's box is off by a little: each side moved by up to BOX_JITTER of the box's size.
        box += rng.uniform(-BOX_JITTER, BOX_JITTER, 4) * np.tile(box[2:] - box[:2], 2)
        box = clip_boxes(pad_boxes(box[None], padding), *scene.size)[0]
        yield letterbox(scene, box, background), obj.kind


def _backdrop(rng: np.random.Generator, photos, size: tuple[int, int]) -> np.ndarray:
    """A room, float32 (h, w, 3), whose wall and floor are the materials of two other catalog products
    (a close-up of each one's middle: wood, fabric, a rug), lit unevenly."""
    w, h = size
    horizon = int(h * rng.uniform(0.45, 0.8))
    image = room(rng, size)
    for top, bottom in ((0, horizon), (horizon, h)):
        photo = np.asarray(photos[int(rng.integers(len(photos)))].convert("RGB"))
        ph, pw = photo.shape[:2]
        middle = photo[ph // 3 : ph - ph // 3, pw // 3 : pw - pw // 3]
        texture = cv2.resize(middle, (w, bottom - top), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        image[top:bottom] = image[top:bottom] * 0.3 + texture * 0.7 * rng.uniform(0.7, 1.05)
    return image


def _part(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random part of `photo`, 50-100% of each side, its brightness and colour changed a little."""
    w, h = photo.size
    cw, ch = int(w * rng.uniform(0.5, 1.0)), int(h * rng.uniform(0.5, 1.0))
    x, y = int(rng.uniform(0, w - cw + 1)), int(rng.uniform(0, h - ch + 1))
    part = photo.convert("RGB").crop((x, y, x + cw, y + ch))
    part = ImageEnhance.Brightness(part).enhance(rng.uniform(0.75, 1.1))
    return ImageEnhance.Color(part).enhance(rng.uniform(0.7, 1.2))
