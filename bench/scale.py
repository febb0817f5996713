"""The vector backends at catalog scale: build time, query time, recall and memory of each.

    python -m bench.scale --seed-index ~/.cache/lookalike/bench/ikea-interior-mobilenet-v2-imagenet-158691112144 \\
        --sizes 10000,100000,1000000 --dims 512,1280 --out scale.json

Vectors are clustered as a catalog's are: each is a blend of two real embeddings (the vectors of
`--seed-index`, any built index) with noise, projected to the dimension asked; without a seed index,
of two random cluster centres. For each size, dimension and backend: build seconds; ms per query, one
at a time and in batches of 16; the same with a kind filter keeping 5% of the rows; recall@10 against
exact search, unfiltered and filtered; the index's bytes on disk and the process's resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from core.types import Product, Where
from index.catalog_index import CatalogIndex
from index.store.kinds import ProductKinds, load_kind_rules
from index.store.products import FILES as TABLE_FILES
from index.store.products import write_table
from index.vectors.backend import VectorSpec
from index.vectors.backends import BACKENDS, new_backend
from index.vectors.faiss import FaissFlatIP
from models.runtime import set_threads

from .load import rss_mib

QUERIES = 200
FILTERED_SHARE = 0.05
NOISE = 0.25  # of a vector's length, spread over its dimensions
KIND = Where(kinds=("kind",))  # the filter measured: a kind holding FILTERED_SHARE of the rows


def clustered(seeds: np.ndarray, count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """`count` L2-normalised float32 (count, dim) vectors: blends of two of `seeds` (S, D0) with noise,
    through a fixed random projection to `dim`."""
    projection = np.linalg.qr(rng.normal(size=(max(dim, seeds.shape[1]), max(dim, seeds.shape[1]))))[0]
    projection = projection[: seeds.shape[1], :dim].astype(np.float32)
    base = seeds @ projection
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    out = np.empty((count, dim), np.float32)
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        share = rng.uniform(0.5, 1.0, size=(n, 1)).astype(np.float32)
        mixed = share * base[rng.integers(len(base), size=n)] + (1 - share) * base[rng.integers(len(base), size=n)]
        mixed += rng.normal(scale=NOISE / np.sqrt(dim), size=(n, dim)).astype(np.float32)
        out[start : start + n] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return out


def measure(
    kind: str, vectors: np.ndarray, queries: np.ndarray, kept: np.ndarray, truth: dict[str, np.ndarray]
) -> dict:
    """One backend over `vectors`: its figures, recall against `truth` (exact rows, unfiltered and filtered)."""
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory) / "v-bench"  # a version of an index directory, its product table written first
        folder.mkdir()
        categories = np.where(np.isin(np.arange(len(vectors)), kept), "kind", "other").tolist()
        write_table(
            folder,
            [Product(row=i, id=str(i), category=c) for i, c in enumerate(categories)],
            ProductKinds.of_categories(categories, load_kind_rules(None)),
        )
        start = time.perf_counter()  # a build: the vectors added as a build adds them, then written
        backend = new_backend(VectorSpec(kind), vectors.shape[1])
        for chunk in range(0, len(vectors), 100_000):
            backend.add(vectors[chunk : chunk + 100_000], np.arange(chunk, min(chunk + 100_000, len(vectors))))
        backend.commit(folder)
        build_s = time.perf_counter() - start
        size = sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file() and p.name not in TABLE_FILES)
    backend._select = lambda where: kept  # FAISS's one filter: a kind holding 5% of the rows (Milvus reads the table)
    figures = {
        "backend": kind,
        "build_s": round(build_s, 2),
        "index_bytes": size,
        "index_to_raw": round(size / vectors.nbytes, 3),
        "rss_mib": rss_mib(os.getpid()),
    }
    for name, where in (("all", None), ("kind_5pct", KIND)):
        backend.search(queries[:16], 10, where)  # warm
        one = _ms(lambda where=where: [backend.search(q[None], 10, where) for q in queries]) / len(queries)
        batch = _ms(
            lambda where=where: [backend.search(queries[i : i + 16], 10, where) for i in range(0, len(queries), 16)]
        )
        _, rows = backend.search(queries, 10, where)
        figures[name] = {
            "ms_per_query": round(one, 3),
            "ms_per_query_in_16s": round(batch / len(queries), 3),
            "recall_at_10": round(_recall(rows, truth[name]), 4),
        }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scale",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument(
        "--seed-index", help="an index whose vectors the benchmark's are made from (default: random cluster centres)"
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated vector counts")
    parser.add_argument("--dims", default="512,1280", help="comma-separated dimensions")
    parser.add_argument(
        "--backends",
        default=",".join(sorted(BACKENDS)),
        help="comma-separated backends (milvus, on Milvus Lite, when named)",
    )
    parser.add_argument("--out", help="write every figure to this JSON file")
    args = parser.parse_args(argv)
    set_threads(0)
    rng = np.random.default_rng(0)
    seeds = _seeds(args.seed_index) if args.seed_index else rng.normal(size=(2000, 256)).astype(np.float32)
    results = []
    for dim in (int(d) for d in args.dims.split(",")):
        for size in (int(n) for n in args.sizes.split(",")):
            vectors = clustered(seeds, size + QUERIES, dim, rng)
            vectors, queries = vectors[:size], vectors[size:]
            kept = np.sort(rng.choice(size, size=int(size * FILTERED_SHARE), replace=False)).astype(np.int64)
            truth = _exact(vectors, queries, kept)
            for kind in args.backends.split(","):
                figures = {"size": size, "dim": dim, **measure(kind, vectors, queries, kept, truth)}
                results.append(figures)
                print(_row(figures), flush=True)
            del vectors
    if args.out:
        Path(args.out).write_text(json.dumps({"seed_index": args.seed_index, "results": results}, indent=2) + "\n")
    return 0


def _seeds(directory: str) -> np.ndarray:
    index = CatalogIndex.load(directory)
    return index.vectors.sample(np.arange(len(index)))


def _exact(vectors: np.ndarray, queries: np.ndarray, kept: np.ndarray) -> dict[str, np.ndarray]:
    """The 10 nearest rows of each query by exact search, among all rows and among `kept`."""
    exact = new_backend(VectorSpec(FaissFlatIP.kind), vectors.shape[1])
    exact.add(vectors, np.arange(len(vectors)))
    exact._select = lambda where: kept
    return {"all": exact.search(queries, 10)[1], "kind_5pct": exact.search(queries, 10, KIND)[1]}


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def _ms(run) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def _row(f: dict) -> str:
    a, k = f["all"], f["kind_5pct"]
    return (
        f"{f['size']:>9,} x {f['dim']:<5} {f['backend']:<14} build {f['build_s']:>7.1f} s  "
        f"{a['ms_per_query']:>7.3f} ms ({a['ms_per_query_in_16s']:.3f} in 16s) R@10 {a['recall_at_10']:.3f}  "
        f"kind 5%: {k['ms_per_query']:>7.3f} ms ({k['ms_per_query_in_16s']:.3f}) R@10 {k['recall_at_10']:.3f}  "
        f"index {f['index_to_raw']:.2f}x raw, rss {f['rss_mib']} MiB"
    )


if __name__ == "__main__":
    sys.exit(main())
