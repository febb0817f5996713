"""Retrieval quality of the search engine on a scenes -> products benchmark.

    python -m bench.quality --catalog ../shared/data/ikea-interior/products.csv \\
        --scenes ../shared/data/ikea-interior/scenes.csv \\
        --detector ../shared/assets/yolo11n-coco-int8rebuilt.pt --encoder ../shared/assets/mobilenet-v2-imagenet \\
        --out quality.json

Every scene with ground truth goes through `Engine.search`, the call the app makes, and through
the same engine without a detector (the whole photo as the only query). Metrics: bench.metrics.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from tqdm.auto import tqdm

from core.defaults import DEFAULT_ENCODER
from core.errors import LookalikeError
from core.settings import CatalogSettings, Settings, parse_setting
from index.builder.ensure import ensure_index
from index.store.manifest import package_versions
from models.detector import load_detector
from models.runtime import set_threads
from search.engine import Engine, load_engine

from .index_cache import cache_dir
from .naive import MAX_OBJECTS as NAIVE_MAX_OBJECTS
from .naive import NaiveSearch
from .report import KS, ColumnScores, format_table
from .scenes import HALVES, BenchmarkError, Scene, read_product_classes, read_scenes

DEFAULT_COLUMNS = ("product_ids", "furniture_product_ids", "coco_detectable_product_ids")


def evaluate(
    engine: Engine | NaiveSearch,
    baseline: Engine | NaiveSearch,
    scenes: Sequence[Scene],
    columns: Sequence[str],
    classes: dict[str, str] | None,
    progress: bool = True,
) -> dict[str, ColumnScores]:
    """Search every scene with `engine` and `baseline`, scoring each ground-truth column."""
    scores = {c: ColumnScores() for c in columns}
    kinds, of_product = searched_kinds(engine), product_kinds(engine)
    for scene in tqdm(scenes, desc="Scenes", unit="scene", disable=not progress):
        result = engine.search(scene.image, top_k=max(KS))
        whole = baseline.search(scene.image, top_k=max(KS))
        rankings = [[m.product.id for m in o.products] for o in result.objects]
        whole_rankings = [[m.product.id for m in o.products] for o in whole.objects]
        labels = {o.label for o in result.objects if o.score is not None}
        for column in columns:
            scores[column].add(rankings, whole_rankings, scene.truth[column], labels, classes, kinds, of_product)
    return scores


def searched_kinds(engine: Engine | NaiveSearch) -> dict[str, set[str]] | None:
    """Product id -> the kinds whose objects search it; None when every object searches the whole catalog."""
    if not engine.kinds:
        return None
    kinds: dict[str, set[str]] = {p.id: set() for p in engine.index.products}
    for kind in engine.labels:
        for row in engine.kinds.rows_of(kind):
            kinds[engine.index.products[row].id].add(kind)
    return kinds


def product_kinds(engine: Engine | NaiveSearch) -> dict[str, set[str]] | None:
    """Product id -> its kinds in the index (the detector classes its category gives, and its own noun)."""
    if not engine.kinds:
        return None
    kinds: dict[str, set[str]] = {}
    for product in engine.index.products:
        own = engine.kinds.own_of_row[product.row]
        kinds.setdefault(product.id, set()).update(engine.kinds.of_row[product.row], {own} if own else ())
    return kinds


def parse_overrides(pairs: Sequence[str]) -> dict:
    """`NAME=VALUE` strings -> Settings field values, parsed as LOOKALIKE_NAME would be."""
    out = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise BenchmarkError(f"--set takes NAME=VALUE, got {pair!r}.")
        name = name.strip().replace("-", "_")
        out[name] = parse_setting(name, raw)
    return out


def _engines(settings: Settings, progress: bool) -> tuple[Engine, Engine]:
    """The pipeline `settings` describe, and the same without a detector (the whole photo as the query)."""
    engine = load_engine(settings, build_index=True, progress=progress)
    return engine, Engine(None, engine.encoder, engine.index, settings.search)


def _naive(settings: Settings, progress: bool) -> tuple[NaiveSearch, NaiveSearch]:
    """The naive pipeline over the index and models `settings` name, and the same without a detector."""
    set_threads(settings.models.threads)
    index, encoder = ensure_index(settings.catalog, settings.models, build=True, progress=progress)
    detector = load_detector(replace(settings.models, max_objects=NAIVE_MAX_OBJECTS))
    return NaiveSearch(detector, encoder, index), NaiveSearch(None, encoder, index)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quality",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--catalog", required=True, help="products CSV (product_id, image_path, ...)")
    parser.add_argument("--scenes", required=True, help="scenes CSV (scene_id, image_path, ground-truth columns)")
    parser.add_argument(
        "--columns",
        default=",".join(DEFAULT_COLUMNS),
        help="comma-separated ground-truth columns to score (default: %(default)s)",
    )
    parser.add_argument("--detector", help="YOLO weights, a local path or a name (default: the settings' detector)")
    parser.add_argument("--encoder", help="encoder, a local folder or a Hub id (default: the settings' encoder)")
    parser.add_argument("--limit", type=int, help="score only the first N scenes with ground truth")
    parser.add_argument(
        "--half",
        choices=HALVES,
        help="score only one half of the scenes: settings are "
        "chosen on 'tune' and checked on 'held' (a fixed split by scene id)",
    )
    parser.add_argument("--out", help="write every figure and the settings used to this JSON file")
    parser.add_argument(
        "--index", help="index directory to reuse or build (default: a cache keyed by catalog and encoder)"
    )
    parser.add_argument(
        "--class-column",
        default="coco_class",
        help="catalog column giving each product's detector class, for scoring only (default: %(default)s)",
    )
    parser.add_argument(
        "--naive",
        action="store_true",
        help="measure the naive pipeline (bench.naive): every "
        "class at 0.25, the raw box, one product list per box over the whole catalog",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an engine setting (docs/settings.md), e.g. --set low_conf=0.25; repeatable",
    )
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    """The defaults, the flags and `--set`: LOOKALIKE_* variables are ignored. Each share of the photos embedded,
    and each set of kind rules, has a cached index of its own."""
    overrides = parse_overrides(args.set)
    share = overrides.get("photo_share", CatalogSettings.photo_share)
    rules = overrides.get("kind_rules", "")
    given = {
        "detector": args.detector,
        "encoder": args.encoder,
        "device": args.device,
        "catalog": args.catalog,
        "index_dir": str(args.index or cache_dir(args.catalog, args.encoder or DEFAULT_ENCODER, share, None, rules)),
    }
    return Settings.of(**{k: v for k, v in {**given, **overrides}.items() if v is not None})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    try:
        columns = [c.strip() for c in args.columns.split(",") if c.strip()]
        scenes = read_scenes(args.scenes, columns, args.limit, args.half)
        classes = read_product_classes(args.catalog, args.class_column)
        settings = _settings(args)
        start = time.perf_counter()
        engine, baseline = (_naive if args.naive else _engines)(settings, progress=not args.no_progress)
        load_seconds = time.perf_counter() - start
        start = time.perf_counter()
        scores = evaluate(engine, baseline, scenes, columns, classes, progress=not args.no_progress)
        seconds = time.perf_counter() - start
    except LookalikeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    results = {c: s.summary(KS) for c, s in scores.items()}
    report = {
        "results": results,
        "settings": {
            "catalog": str(Path(args.catalog).resolve()),
            "scenes": str(Path(args.scenes).resolve()),
            "columns": columns,
            "limit": args.limit,
            "half": args.half,
            "naive": args.naive,
            "ks": list(KS),
            "class_column": args.class_column if classes is not None else None,
            "index": str(engine.index.path),
            "engine": settings.flat(),
            "kinds": list(engine.kinds.classes) if engine.kinds else None,
            "versions": package_versions(),
        },
        "timing": {
            "load_or_build_s": round(load_seconds, 1),
            "scenes_s": round(seconds, 1),
            "per_scene_ms": round(1000 * seconds / len(scenes), 1),
            "device": engine.encoder.device,
        },
    }
    print(format_table(results, KS))
    print(
        f"{len(scenes)} scenes in {seconds:.0f} s ({report['timing']['per_scene_ms']:.0f} ms each, "
        f"engine and whole photo)."
    )
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"Wrote {args.out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
