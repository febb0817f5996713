"""Pure box functions. Boxes are float arrays of shape (N, 4) in pixel `xyxy` order."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchvision.ops import batched_nms


def pad_boxes(boxes: np.ndarray, ratio: float) -> np.ndarray:
    """Grow each box by `ratio` of its width and height on every side: (N, 4) -> (N, 4)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    dw = (boxes[:, 2] - boxes[:, 0]) * ratio
    dh = (boxes[:, 3] - boxes[:, 1]) * ratio
    return boxes + np.stack([-dw, -dh, dw, dh], axis=1)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clamp boxes to the image `[0, width] x [0, height]`: (N, 4) -> (N, 4)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(boxes, 0, [width, height, width, height])


def crop(image: Image.Image, box, fill: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Cut `box` out of `image`; parts of the box outside the image are filled with `fill`.

    Rounds the box outward to whole pixels and never returns an empty image.
    """
    x1, y1, x2, y2 = (int(np.floor(box[0])), int(np.floor(box[1])), int(np.ceil(box[2])), int(np.ceil(box[3])))
    x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
    inside = (max(x1, 0), max(y1, 0), min(x2, image.width), min(y2, image.height))
    if inside == (x1, y1, x2, y2):
        return image.crop(inside)
    canvas = Image.new("RGB", (x2 - x1, y2 - y1), fill)
    if inside[0] < inside[2] and inside[1] < inside[3]:
        canvas.paste(image.crop(inside), (inside[0] - x1, inside[1] - y1))
    return canvas


def letterbox(
    image: Image.Image, box, fill: tuple[int, int, int] = (255, 255, 255), shrink_from: int | None = None
) -> Image.Image:
    """Cut `box` out of `image` and centre it on a square canvas of `fill`, like a catalog photo.

    Encoders resize and centre-crop to a square: a tall or wide crop would lose its ends. A cut of
    twice `shrink_from` pixels a side or more is shrunk by a whole factor (a box filter) to between
    `shrink_from` and twice it: the encoder sees a few hundred pixels, and the square of a 40-megapixel
    photo's half would hold 160 MB.
    """
    cut = crop(image, box, fill)
    factor = max(cut.size) // shrink_from if shrink_from else 1
    if factor > 1:
        cut = cut.reduce(factor)
    side = max(cut.size)
    canvas = Image.new("RGB", (side, side), fill)
    canvas.paste(cut, ((side - cut.width) // 2, (side - cut.height) // 2))
    return canvas


def centre_crop(image: Image.Image, share: float) -> Image.Image:
    """The middle `share` (0 to 1] of `image`'s width and of its height; the image itself at 1."""
    if share >= 1:
        return image
    left, top = round(image.width * (1 - share) / 2), round(image.height * (1 - share) / 2)
    return image.crop((left, top, image.width - left, image.height - top))


def mirror_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    """Boxes found in a left-right mirrored image, mapped back to the original: (N, 4) -> (N, 4)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=1)


def nms(boxes: np.ndarray, scores, labels, iou: float) -> list[int]:
    """Non-maximum suppression within each label: (N, 4) boxes -> the kept indices, best score first."""
    groups = {label: i for i, label in enumerate(dict.fromkeys(labels))}
    keep = batched_nms(
        torch.as_tensor(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)),
        torch.as_tensor(scores, dtype=torch.float64),
        torch.as_tensor([groups[label] for label in labels], dtype=torch.int64),
        iou,
    )
    return keep.tolist()


def photo_regions(width: int, height: int) -> np.ndarray:
    """The whole photo, its four halves and its centre: (6, 4). Where an object the detector has no
    class for may be, at the sizes such objects take in a photo (quarters as well added little on
    the ikea benchmarks, for two thirds more time)."""
    w, h = float(width), float(height)
    halves = [(0, 0, w / 2, h), (w / 2, 0, w, h), (0, 0, w, h / 2), (0, h / 2, w, h)]
    return np.array([(0, 0, w, h), *halves, (0.15 * w, 0.15 * h, 0.85 * w, 0.85 * h)])


def box_area(box) -> float:
    """The area of a box (4,), 0 for an empty one."""
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def overlap(a, b) -> tuple[float, float, float]:
    """How two boxes (4,) cover each other: their IoU, the share of the smaller one inside the larger, and
    the smaller's area over the larger's; all 0 when they do not meet."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    areas = sorted(box_area(box) for box in (a, b))
    if width <= 0 or height <= 0 or areas[0] <= 0:
        return 0.0, 0.0, 0.0
    common = width * height
    return common / (areas[0] + areas[1] - common), common / areas[0], areas[0] / areas[1]


def pixel_box(box: np.ndarray) -> tuple[int, int, int, int]:
    """A box (4,) as whole pixels, as a result reports it."""
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    return x1, y1, x2, y2
