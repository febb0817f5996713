"""Time the two things a user waits for: building a catalog index, and searching one photo.

    python -m bench.speed --catalog ../shared/data/ikea-interior/products.csv \
        --photo ../shared/data/ikea-interior/images/scenes/<scene>.jpg \
        --detector ../shared/assets/yolo11n-coco-int8rebuilt.pt --encoder ../shared/assets/mobilenet-v2-imagenet
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

import torch

from core.settings import Settings
from index.build import build_index
from index.catalog import open_catalog
from models.encoder import load_encoder
from models.runtime import set_threads
from search.engine import load_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", required=True, help="catalog CSV/JSONL or dataset to index")
    parser.add_argument("--photo", required=True, help="photo to search")
    parser.add_argument("--detector", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--repeats", type=int, default=10, help="timed searches after one warm-up")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        # The default pipeline, loaded as the app loads it; LOOKALIKE_* variables are not read.
        settings = Settings.of(detector=args.detector, encoder=args.encoder, catalog=args.catalog, index_dir=tmp)
        set_threads(settings.models.threads)
        report = build_index(open_catalog(args.catalog), load_encoder(args.encoder), tmp)  # the build is timed
        engine = load_engine(settings)
        engine.search(args.photo)  # warm-up: first-call allocations and lazy imports
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = engine.search(args.photo)
            runs.append({"total": (time.perf_counter() - start) * 1000, **result.timings_ms})
    figures = {
        "index_products": report.products,
        "index_seconds": round(report.seconds, 1),
        "index_images_per_second": round(report.products / report.seconds, 1),
        "search_ms_median": {k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0]},
        "objects": len(result.objects),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": engine.encoder.device,
                    "processor": platform.processor() or platform.machine()},
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
