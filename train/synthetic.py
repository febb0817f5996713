"""Synthetic room scenes to teach a detector the catalog's kinds, written in the ultralytics YOLO dataset
layout: the catalog's own product photos cut out and pasted into plain rooms (`index.views.synthetic`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from index.views.synthetic import Pasted, compose, cut_out

log = logging.getLogger(__name__)


def write_dataset(
    photos: Iterable[tuple[Image.Image, int]],
    names: Sequence[str],
    out: str | Path,
    *,
    train: int = 2400,
    val: int = 200,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Scenes from `photos` ((photo, class id) pairs; classes named by `names`) into `out` as an
    ultralytics dataset; returns its `data.yaml`."""
    out = Path(out)
    cutouts = [c for photo, kind in photos if (c := cut_out(photo, kind)) is not None]
    if not cutouts:
        raise ValueError("None of the catalog's photos has a plain background to cut its product from.")
    log.info("%d product cutouts of %d kinds", len(cutouts), len({c.kind for c in cutouts}))
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in tqdm(range(count), desc=f"Synthetic scenes ({split})", unit="scene", disable=not progress):
            image, objects = compose(rng, cutouts)
            image.save(out / "images" / split / f"{i:05d}.jpg", quality=90)
            (out / "labels" / split / f"{i:05d}.txt").write_text("".join(_yolo_line(o, image.size) for o in objects))
    data = out / "data.yaml"
    data.write_text(
        f"path: {out.resolve()}\ntrain: images/train\nval: images/val\nnames:\n"
        + "".join(f"  {i}: {json.dumps(name)}\n" for i, name in enumerate(names)),
        encoding="utf-8",
    )
    return data


def _yolo_line(obj: Pasted, size: tuple[int, int]) -> str:
    """A YOLO label line: class, then centre x, y and width, height as shares of the image."""
    (x0, y0, x1, y1), (w, h) = obj.xyxy, size
    return f"{obj.kind} {(x0 + x1) / 2 / w:.5f} {(y0 + y1) / 2 / h:.5f} {(x1 - x0) / w:.5f} {(y1 - y0) / h:.5f}\n"
