"""What a search and a build cost against the bare model passes they need, timed side by side.

    python -m bench.speed --catalog ../shared/data/ikea-hk/products.csv \
        --photo "../shared/data/ikea-interior/images/scenes/<scene>.jpg" \
        --detector ../shared/assets/yolo11n-coco-int8rebuilt.pt --encoder ../shared/assets/mobilenet-v2-imagenet

For the configured encoder and for each `--also` (default: a randomly initialised CLIP of ViT-B/32's
shape, the Space's encoder's cost), in one process:
- **build**: the catalog indexed by `index build`'s own code; its images per second against the
  encoder's own throughput on images already decoded and prepared, at the same batch size
  (`build_ratio`, goal at least 0.9: decoding, resizing and writing hide behind the model);
- **search**: the median wall time of the default pipeline on the decoded photo, against the bare
  passes its answer needs: one detector pass on the photo and one encoder pass over the crops of the
  objects it returns, already prepared (`search_ratio`, goal at most 1.15). The rounds interleave the
  three, so that the machine's drift falls on all of them alike.
The top-level `search_ratio` and `build_ratio` are the worst over the encoders.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from itertools import islice
from pathlib import Path

import torch

from bench.build import CLIP_B32, encoder_path
from bench.quality import parse_overrides
from core.boxes import letterbox
from core.images import load_image
from core.settings import Settings
from index.builder.build import build_index
from index.catalog.image_reader import ImageReader
from index.catalog.open import open_catalog
from index.catalog.source import ColumnMap, Reading
from models.encoder import encoder_for
from models.runtime import set_threads
from search.engine import CROP_SHRINK_FROM, load_engine

GOAL_SEARCH_RATIO = 1.15
GOAL_BUILD_RATIO = 0.9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", required=True, help="catalog CSV/JSONL or dataset to index")
    parser.add_argument("--photo", required=True, help="photo to search")
    parser.add_argument("--detector", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument(
        "--also",
        nargs="*",
        default=[CLIP_B32],
        help=f"more encoders timed the same way (model ids or folders, or {CLIP_B32}); none: --also",
    )
    parser.add_argument("--limit", type=int, help="index at most this many products (the catalog cap)")
    parser.add_argument("--batch-size", type=int, default=Settings().catalog.batch_size)
    parser.add_argument("--repeats", type=int, default=10, help="timed rounds after one warm-up")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a setting (docs/settings.md), e.g. --set detect_mirrored=false",
    )
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)

    set_threads(0)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            _timed(name, encoder_path(name, Path(tmp) / f"encoder-{i}"), args, Path(tmp) / f"index-{i}")
            for i, name in enumerate([args.encoder, *args.also])
        ]
    figures = {
        "photo": args.photo,
        "catalog": args.catalog,
        "settings": args.set,
        "search_ratio": max(run["search_ratio"] for run in runs),
        "build_ratio": min(run["build_ratio"] for run in runs),
        "goals": {"search_ratio_at_most": GOAL_SEARCH_RATIO, "build_ratio_at_least": GOAL_BUILD_RATIO},
        "encoders": runs,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "processor": platform.processor() or platform.machine(),
        },
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _timed(name: str, path: str, args, index_dir: Path) -> dict:
    # The app's pipeline; LOOKALIKE_* variables are not read.
    settings = Settings.of(
        detector=args.detector,
        encoder=path,
        catalog=args.catalog,
        index_dir=str(index_dir),
        **parse_overrides(args.set),
    )
    catalog = open_catalog(args.catalog, ColumnMap(), Reading(limit=args.limit or 0))
    encoder = encoder_for(path, settings.models)
    report = build_index(catalog, encoder, index_dir, batch_size=args.batch_size, progress=False)
    engine = load_engine(settings, build_index=True, progress=False)  # as the app loads it: its hubness measured
    encoder = engine.encoder

    with ImageReader() as reader:  # the model alone, on a batch of the catalog's images already read
        read = reader.read([item.image for item in islice(catalog, args.batch_size)])
        batch = encoder.prepare([image for image in read if not isinstance(image, tuple)])
    model_s = _median_s(lambda: encoder.embed_prepared(batch), args.repeats)
    build_rate, model_rate = report.products / report.seconds, len(batch) / model_s

    photo = load_image(args.photo, settings.search.max_pixels)
    result = engine.search(photo)  # warm-up: first-call allocations and lazy imports
    pixels = encoder.prepare([letterbox(photo, obj.box, engine.background, CROP_SHRINK_FROM) for obj in result.objects])
    rounds: list[dict[str, float]] = []
    for _ in range(args.repeats):
        begin = time.perf_counter()
        searched = engine.search(photo)
        total = time.perf_counter() - begin
        detect = _seconds(lambda: engine.detector.detect([photo], conf=settings.search.conf, classes=None))
        embed = _seconds(lambda: encoder.embed_prepared(pixels))
        rounds.append(
            {"total": total * 1000, **searched.timings_ms, "bare_detect": detect * 1000, "bare_embed": embed * 1000}
        )
    ms = {key: round(statistics.median(r[key] for r in rounds), 1) for key in rounds[0]}
    return {
        "encoder": name,
        "forward_batch": encoder.forward_batch,
        "runtime": getattr(encoder, "base", encoder).runtime,  # an adapted index's encoder wraps its own
        "index_products": report.products,
        "build_seconds": round(report.seconds, 1),
        "build_images_per_second": round(build_rate, 1),
        "model_images_per_second": round(model_rate, 1),
        "build_ratio": round(build_rate / model_rate, 2),
        "objects": len(result.objects),
        "search_ms_median": ms,
        "search_ratio": round(ms["total"] / (ms["bare_detect"] + ms["bare_embed"]), 2),
    }


def _seconds(run) -> float:
    begin = time.perf_counter()
    run()
    return time.perf_counter() - begin


def _median_s(run, repeats: int) -> float:
    run()  # warm-up
    return statistics.median(_seconds(run) for _ in range(repeats))


if __name__ == "__main__":
    raise SystemExit(main())
