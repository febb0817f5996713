"""Synthetic room scenes cut and pasted from the catalog's own product photos ("Cut, Paste and Learn",
Dwibedi et al. 2017): the views a build measures its photos' hubness on (`index.views.rooms`), and the
scenes a detector is taught the catalog's kinds with (`train.synthetic`).

Catalog photos show one product on a plain background. Cut out along that background, scaled,
recoloured a little and pasted overlapping onto plain rooms (a wall, a floor), they give scenes
whose boxes are known by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

# A border pixel this close (max over RGB) to the border's median colour is background.
BACKGROUND_TOLERANCE = 24
# A photo is cut out only when this share of its border is background: a plain studio shot.
PLAIN_BORDER = 0.9
# A pasted product covered by later ones beyond this share of its area is not labelled.
MOST_HIDDEN = 0.6
SCENE_SIZE = (640, 480)


@dataclass(frozen=True)
class Cutout:
    """A product cut from its photo: `rgb` uint8 (h, w, 3), `mask` bool (h, w), of class `kind` (an id)."""

    rgb: np.ndarray
    mask: np.ndarray
    kind: int


@dataclass(frozen=True)
class Pasted:
    """A labelled object of a scene: class id and visible box `xyxy` in pixels."""

    kind: int
    xyxy: tuple[int, int, int, int]


def cut_out(photo: Image.Image, kind: int) -> Cutout | None:
    """The product of a plain-background photo, cropped to its mask; None when the background is not plain."""
    rgb = np.asarray(photo.convert("RGB"))
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    colour = np.median(border, axis=0)
    if (np.abs(border - colour).max(axis=1) <= BACKGROUND_TOLERANCE).mean() < PLAIN_BORDER:
        return None
    near = (np.abs(rgb.astype(np.int16) - colour).max(axis=2) <= BACKGROUND_TOLERANCE).astype(np.uint8)
    # The background is what is near the border colour and joined to the border: a white shelf
    # inside a white photo stays part of the product.
    padded = np.pad(near, 1, constant_values=1)
    cv2.floodFill(padded, None, (0, 0), 2)
    mask = padded[1:-1, 1:-1] != 2
    if mask.mean() < 0.03:
        return None
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return Cutout(rgb[y0:y1, x0:x1].copy(), mask[y0:y1, x0:x1].copy(), kind)


def room(rng: np.random.Generator, size: tuple[int, int] = SCENE_SIZE) -> np.ndarray:
    """A plain room as float32 (h, w, 3): a wall over a floor (striped like boards at times), lit unevenly."""
    w, h = size
    image = np.empty((h, w, 3), np.float32)
    horizon = int(h * rng.uniform(0.45, 0.8))
    image[:horizon] = rng.integers(120, 256, 3)
    image[horizon:] = rng.integers(40, 230, 3)
    if rng.random() < 0.6:
        image[horizon:] += (np.sin(np.arange(w) * np.pi / rng.uniform(8, 40)) * rng.uniform(5, 25))[None, :, None]
    image *= np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.9, 1.15), w, dtype=np.float32)[None, :, None]
    image += rng.normal(0, rng.uniform(2, 10), image.shape).astype(np.float32)
    return image


def compose(
    rng: np.random.Generator,
    cutouts: Sequence[Cutout],
    size: tuple[int, int] = SCENE_SIZE,
    most: int = 5,
    *,
    every: bool = False,
    backdrop: np.ndarray | None = None,
) -> tuple[Image.Image, list[Pasted]]:
    """A room (or `backdrop`, float32 (h, w, 3)) with 1 to `most` random cutouts pasted in turn (with
    `every`: each of `cutouts`, in order), each 20-85% of the scene's height."""
    w, h = size
    image = room(rng, size) if backdrop is None else backdrop
    owner = np.full((h, w), -1, np.int32)  # which pasted object each pixel shows
    pasted: list[tuple[int, int]] = []  # (kind, pixels when pasted)
    for number in range(len(cutouts) if every else int(rng.integers(1, most + 1))):
        cut = cutouts[number] if every else cutouts[int(rng.integers(len(cutouts)))]
        scale = min(rng.uniform(0.2, 0.85) * h / cut.rgb.shape[0], 0.95 * w / cut.rgb.shape[1])
        cw, ch = max(8, int(cut.rgb.shape[1] * scale)), max(8, int(cut.rgb.shape[0] * scale))
        rgb = cv2.resize(cut.rgb, (cw, ch), interpolation=cv2.INTER_AREA).astype(np.float32) * rng.uniform(0.75, 1.1)
        # A soft edge, so that the paste's border is not a giveaway the detector learns instead.
        alpha = cv2.GaussianBlur(cv2.resize(cut.mask.astype(np.float32), (cw, ch)), (3, 3), 0)[..., None]
        x, y = int(rng.uniform(0, w - cw)), int(rng.uniform(0, h - ch))
        region = image[y : y + ch, x : x + cw]
        region[:] = region * (1 - alpha) + np.minimum(rgb, 255) * alpha
        solid = alpha[..., 0] > 0.5
        owner[y : y + ch, x : x + cw][solid] = number
        pasted.append((cut.kind, int(solid.sum())))
    objects = []
    for number, (kind, pixels) in enumerate(pasted):
        ys, xs = np.nonzero(owner == number)
        if len(ys) >= max(50, (1 - MOST_HIDDEN) * pixels):
            objects.append(Pasted(kind, (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)))
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)), objects
