"""Loading and storing an index at catalog scale: disk size, load time, first search.

    python -m bench.storage --sizes 10000,100000,1000000 --thumbnails links --out storage.json
    python -m bench.storage --sizes 10000,100000 --thumbnails files

For each size, an index version of that many products is written by the build's own writers (the product
table, kinds, photo digests, the vector backend the build would choose, the thumbnails: a ~9 KB JPEG a
product, or links when the catalog's images are links, `LOOKALIKE_THUMBNAILS=link`), with realistic
fields (names, categories, prices, links, a text column) and clustered 512-d vectors; then it is loaded
as the app loads it (`CatalogIndex.load`), its files just written, so in the page cache. Reported: the
bytes on disk by part, the load's seconds, the first search's, and how long until the checks left for
after the load (thumbnails, above 20,000) and the text index are done, and the process's memory.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from core.types import EncoderInfo, Product
from index.catalog.source import CatalogSource
from index.catalog_index import CatalogIndex
from index.store.kinds import ProductKinds, load_kind_rules
from index.store.manifest import Manifest
from index.store.products import write_photos, write_table
from index.store.versions import VersionWriter
from index.vectors.backends import new_backend, spec_for
from index.vectors.calibration import calibrate
from index.vectors.recall import commit_measured
from models.runtime import set_threads

from .load import rss_mib
from .scale import clustered

DIM = 512
CATEGORIES = (
    "Sofas",
    "Armchairs",
    "Rugs",
    "Table lamps",
    "Beds",
    "Wardrobes",
    "Chairs",
    "Desks",
    "Bookcases",
    "Mirrors",
    "Curtains",
    "Cushions",
)
COLOURS = ("grey", "white", "oak", "black", "green", "beige", "blue")


def write_index(directory: Path, size: int, links: bool, rng: np.random.Generator) -> None:
    """A version of `size` products in `directory`, written as a build writes one."""
    products = [
        Product(
            row=i,
            id=f"SKU{i:08d}",
            name=f"{CATEGORIES[i % 12][:-1]} {i} in {COLOURS[i % 7]}",
            category=CATEGORIES[i % 12],
            price=float(rng.integers(10, 3000)),
            link=f"https://shop.example/p/{i}",
            image=f"https://cdn.shop.example/img/{i}.jpg" if links else f"images/{i}.jpg",
            attributes={
                "description": f"A {COLOURS[i % 7]} piece for the living room, with a removable cover ({i % 97})."
            },
        )
        for i in range(size)
    ]
    with VersionWriter(directory) as version:
        write_table(
            version.folder, products, ProductKinds.of_categories([p.category for p in products], load_kind_rules(None))
        )
        write_photos(version.folder, [rng.bytes(32) for _ in range(size)], np.full((size, 3), 255.0))
        (version.folder / "images").mkdir()
        if not links:
            thumbnail = _thumbnail_bytes(rng)
            for i in range(size):
                (version.folder / "images" / f"{i}.jpg").write_bytes(thumbnail)
        vectors = new_backend(spec_for(size), DIM)
        seeds = rng.normal(size=(2000, 256)).astype(np.float32)
        for start in range(0, size, 100_000):
            count = min(100_000, size - start)
            vectors.add(clustered(seeds, count, DIM, np.random.default_rng(start)), np.arange(start, start + count))
        spec = commit_measured(vectors, version.folder)
        version.commit(
            Manifest(
                encoder=EncoderInfo("bench-storage", "clip", "cls", DIM),
                probe=(0.0,) * 4,
                source=CatalogSource("local", path="/bench/catalog.csv"),
                columns={},
                currency="USD",
                created="2026-12-06T00:00:00+00:00",
                products=size,
                vectors=spec,
                calibration=calibrate(vectors, [p.id for p in products]),
                kind_rules=load_kind_rules(None).sha256,
            )
        )


def measure(directory: Path) -> dict:
    start = time.perf_counter()
    index = CatalogIndex.load(directory)
    loaded = time.perf_counter()
    query = np.random.default_rng(1).normal(size=(1, DIM)).astype(np.float32)
    index.search(query / np.linalg.norm(query), 10)
    searched = time.perf_counter()
    index.table.text.search("grey sofa")  # waits for the text index
    texted = time.perf_counter()
    index.checked.wait()
    checked = time.perf_counter()
    version = index.path
    parts = {
        "vectors": sum(f.stat().st_size for f in version.glob("vectors.*")),
        "table": sum(
            f.stat().st_size
            for f in version.iterdir()
            if f.is_file() and f.suffix in (".parquet", ".json", ".npz") and f.name != "manifest.json"
        ),
        "thumbnails": sum(f.stat().st_size for f in (version / "images").iterdir()),
        "manifest": (version / "manifest.json").stat().st_size,
    }
    return {
        "load_s": round(loaded - start, 2),
        "first_search_ms": round((searched - loaded) * 1000, 1),
        "checked_s": round(checked - start, 2),
        "text_ready_s": round(texted - start, 2),
        "rss_mib": rss_mib(os.getpid()),
        "disk_bytes": sum(parts.values()),
        "disk": parts,
        "backend": index.manifest.vectors.backend,
    }


def _thumbnail_bytes(rng: np.random.Generator) -> bytes:
    """A 384 x 288 JPEG of about 9 KB, as a catalog photo's thumbnail is: smooth, with some detail."""
    ramp = np.linspace(0, 255, 384, dtype=np.float32)[None, :, None] * np.ones((288, 1, 3), np.float32)
    pixels = np.clip(ramp + rng.normal(scale=1.8, size=(288, 384, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.storage",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated product counts")
    parser.add_argument(
        "--thumbnails",
        choices=("files", "links"),
        default="files",
        help="thumbnails copied into the index, or the catalog's links",
    )
    parser.add_argument("--work", help="where the indexes are written (default: a temporary folder, removed)")
    parser.add_argument("--out", help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    set_threads(0)
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-storage-"))
    results = []
    try:
        for size in (int(n) for n in args.sizes.split(",")):
            directory = work / f"index-{size}"
            start = time.perf_counter()
            write_index(directory, size, args.thumbnails == "links", np.random.default_rng(0))
            figures = {
                "size": size,
                "thumbnails": args.thumbnails,
                "write_s": round(time.perf_counter() - start, 1),
                **measure(directory),
            }
            results.append(figures)
            print(_row(figures), flush=True)
            shutil.rmtree(directory)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"results": results}, indent=2) + "\n")
    return 0


def _row(f: dict) -> str:
    d = f["disk"]
    return (
        f"{f['size']:>9,} products, thumbnails as {f['thumbnails']:<5} ({f['backend']}): "
        f"disk {f['disk_bytes'] / 2**20:,.0f} MiB (vectors {d['vectors'] / 2**20:,.0f}, table "
        f"{d['table'] / 2**20:,.0f}, thumbnails {d['thumbnails'] / 2**20:,.0f})  load {f['load_s']:.2f} s, "
        f"first search {f['first_search_ms']:.1f} ms, checked {f['checked_s']:.2f} s, "
        f"text ready {f['text_ready_s']:.2f} s, rss {f['rss_mib']:,} MiB"
    )


if __name__ == "__main__":
    sys.exit(main())
