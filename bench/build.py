"""Time a capped index build with its photos' hubness and close-ups measured, and what the default catalog's cap
costs at those rates.

    python -m bench.build --catalog ../shared/data/ikea-hk/products.csv --limit 300 --encoder clip-b32-random

`--encoder clip-b32-random` is a randomly initialised CLIP of ViT-B/32's shape (the default encoder's
cost, with no download): a build's time is the encoder's, whatever its weights.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from core.defaults import DEFAULT_CATALOG_READING
from core.settings import CatalogSettings
from index.builder.build import build_index
from index.builder.hubbed import load_hubbed
from index.catalog.open import open_catalog
from index.catalog.source import ColumnMap, Reading
from index.views.embedded import embed_photos
from models.encoder import load_encoder, save_random_clip_b32
from models.runtime import set_threads

CLIP_B32 = "clip-b32-random"


def encoder_path(name: str, folder: Path) -> str:
    """Where the encoder `name` loads from: a model id or folder as it is, CLIP_B32 saved into `folder` first."""
    return str(save_random_clip_b32(folder) if name == CLIP_B32 else name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.build", description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", required=True, help="catalog CSV/JSONL or dataset to index")
    parser.add_argument("--limit", type=int, default=300, help="products taken (the cap)")
    parser.add_argument("--encoder", required=True, help=f"model id or folder, or {CLIP_B32}")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--hub-views", type=int, default=CatalogSettings.hub_views, help="views its hubness is measured on (0: none)"
    )
    parser.add_argument(
        "--close-up-share",
        type=float,
        default=CatalogSettings.close_up_share,
        help="each photo's middle embedded besides (1: none)",
    )
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)

    set_threads(0)
    with tempfile.TemporaryDirectory() as tmp:
        encoder = load_encoder(encoder_path(args.encoder, Path(tmp) / "clip"))
        catalog = open_catalog(args.catalog, ColumnMap(), Reading(limit=args.limit))
        report = build_index(catalog, encoder, Path(tmp) / "index", batch_size=args.batch_size, progress=False)
        start = time.perf_counter()
        index = load_hubbed(Path(tmp) / "index", encoder, args.hub_views, progress=False)
        hub_seconds, hubness = time.perf_counter() - start, index.manifest.hubness
        close_up_rate = None
        if hubness and args.close_up_share < 1:  # measured with the hubness, timed apart: one per photo
            start = time.perf_counter()
            embed_photos(index, encoder, args.close_up_share, progress=False)
            close_up_rate = report.products / (time.perf_counter() - start)
    rate = report.products / report.seconds
    view_rate = hubness.views / hub_seconds if hubness else None
    default_cap = DEFAULT_CATALOG_READING["catalog_limit"]
    cap_seconds = default_cap / rate + (min(args.hub_views, default_cap) / view_rate if view_rate else 0)
    cap_seconds += default_cap / close_up_rate if close_up_rate else 0
    figures = {
        "encoder": args.encoder,
        "products": report.products,
        "seconds": round(report.seconds, 1),
        "images_per_second": round(rate, 1),
        "hub_views": hubness.views if hubness else 0,  # fewer than asked where a view was hidden in its room
        "hub_seconds": round(hub_seconds, 1),
        "views_per_second": round(view_rate, 1) if view_rate else None,
        "close_ups_per_second": round(close_up_rate, 1) if close_up_rate else None,
        "default_cap": default_cap,
        "default_cap_minutes": round(cap_seconds / 60, 1),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
    }
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
