"""Words on a photo search ("this, but in green") and keyword search, measured on the catalog itself.

    python -m bench.refine --catalog ../shared/data/ikea-interior/products.csv \\
        --encoder ../shared/assets/mobilenet-v2-imagenet --out refine.json

No scenes: the queries come from the catalog. A colour query is a product's own photo with the words
"in W", W a colour word of other products of its type that it lacks; a hit at K is a product of its
type with W in its colour among the top K, found by the photo alone and by the photo and the words
at several `words_weight`s. Keyword search: a category's name (and its last word) should bring the
products of that category. Queries are split into halves by product id (category name, for keywords)
with `bench.scenes.in_half`: the weight is chosen on 'tune' and checked on 'held'.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import mean

from tqdm.auto import tqdm

from core.defaults import DEFAULT_ENCODER
from core.errors import LookalikeError
from core.settings import Settings
from core.types import Match, Product
from index.builder.ensure import ensure_index
from index.store.manifest import package_versions
from models.runtime import set_threads
from search.engine import Engine

from .index_cache import cache_dir
from .quality import parse_overrides
from .scenes import HALVES, BenchmarkError, in_half

# What the index reads besides name and category (the catalog's `type`); never the benchmark's own
# derived columns (coarse_category, coco_class, is_furniture, scene_ids, n_scenes).
TEXT_COLUMNS = "color,size,description"
COLOUR_COLUMN = "color"
# Basic colour names; IKEA names many colours by their wood, so woods count as colours here.
COLOURS = frozenset(
    {
        "white",
        "black",
        "grey",
        "gray",
        "beige",
        "brown",
        "green",
        "blue",
        "red",
        "yellow",
        "pink",
        "orange",
        "turquoise",
        "anthracite",
        "oak",
        "birch",
        "pine",
        "walnut",
    }
)
WORDS_PER_PRODUCT = 3  # colour queries per product at most
MIN_CATEGORY = 5  # products a category needs to be a keyword query
KS = (1, 5, 10)
DEPTH = 10  # keyword precision@DEPTH
WORD = re.compile(r"[^\W\d_]+")  # letters only


@dataclass(frozen=True)
class ColourQuery:
    product: str  # its photo is the query
    category: str
    colour: str  # the words are "in <colour>"


def words(text: str | None) -> list[str]:
    """The lowercase words of `text`, letters only: "Nolhaga grey-beige,black" -> nolhaga, grey, beige, black."""
    return WORD.findall((text or "").lower())


def colours(product: Product) -> frozenset[str]:
    return frozenset(w for w in words(product.attributes.get(COLOUR_COLUMN)) if w in COLOURS)


def distinct(products: Iterable[Product]) -> list[Product]:
    """One product per id (an index holds a row per photo), by id."""
    return sorted({p.id: p for p in products}.values(), key=lambda p: p.id)


def colour_truth(products: Iterable[Product]) -> dict[tuple[str, str], frozenset[str]]:
    """(category, colour word) -> the ids of that category's products with that colour word."""
    found = defaultdict(set)
    for p in products:
        for colour in colours(p):
            found[p.category, colour].add(p.id)
    return {key: frozenset(ids) for key, ids in found.items()}


def colour_queries(products: Sequence[Product], half: str | None = None) -> list[ColourQuery]:
    """Every product (of `half`) with up to WORDS_PER_PRODUCT colour words it lacks and other products
    of its category have; which ones by a checksum, so that no colour is favoured and none ever changes."""
    truth = colour_truth(products)
    offered = defaultdict(set)  # category -> its colour words
    for category, colour in truth:
        offered[category].add(colour)
    queries = []
    for p in distinct(products):
        if p.category is None or (half is not None and not in_half(p.id, half)):
            continue
        lacking = offered[p.category] - colours(p)
        chosen = sorted(lacking, key=lambda w: zlib.crc32(f"{p.id} {w}".encode()))[:WORDS_PER_PRODUCT]
        queries += [ColourQuery(p.id, p.category, w) for w in sorted(chosen)]
    return queries


def keyword_queries(products: Sequence[Product], half: str | None = None) -> dict[str, dict[str, frozenset[str]]]:
    """Query words -> the ids relevant to them, for the categories of MIN_CATEGORY products or more (of
    `half`, by name): 'category' asks for a category's name, lowercased, and wants its products;
    'word' asks for its last word ("Swivel armchair" -> "armchair") and wants every category holding it."""
    ids = defaultdict(set)
    for p in distinct(products):
        if p.category:
            ids[p.category].add(p.id)
    common = sorted(c for c in ids if len(ids[c]) >= MIN_CATEGORY and words(c))
    queries = {"category": {}, "word": {}}
    for category in common:
        if half is None or in_half(category, half):
            queries["category"][category.lower()] = frozenset(ids[category])
        last = words(category)[-1]
        if half is None or in_half(last, half):
            queries["word"][last] = frozenset(i for c in ids if last in words(c) for i in ids[c])
    return queries


def first_hit(ranking: Sequence[str], relevant: frozenset[str]) -> int | None:
    """The rank (from 0) of the first relevant id; None when none is there."""
    return next((r for r, product in enumerate(ranking) if product in relevant), None)


def hit_rates(ranks: Sequence[int | None], ks: Sequence[int] = KS) -> dict[str, float]:
    """The share of queries with a hit among their top K, for each K of `ks`; `ranks` from `first_hit`."""
    return {f"hit@{k}": float(mean(r is not None and r < k for r in ranks)) for k in ks}


def precision(ranking: Sequence[str], relevant: frozenset[str], k: int = DEPTH) -> float:
    """The share of the top `k` places holding a relevant id (places left empty count as misses)."""
    return sum(product in relevant for product in ranking[:k]) / k


class Timed:
    """Searches with their wall times, per kind of query, in milliseconds."""

    def __init__(self):
        self.ms = defaultdict(list)

    def ranking(self, kind: str, search: Callable[[], list[Match]]) -> list[str]:
        """The ids of the products `search` returns, best first."""
        start = time.perf_counter()
        products = search()
        self.ms[kind].append(1000 * (time.perf_counter() - start))
        return [m.product.id for m in products]

    def summary(self) -> dict[str, float]:
        return {f"{kind}_ms": round(mean(ms), 1) for kind, ms in self.ms.items()}


def evaluate_colours(
    engines: dict[float, Engine],
    photos: dict[str, Path],
    queries: Sequence[ColourQuery],
    clock: Timed,
    phrase: str,
    progress: bool = True,
) -> dict:
    """Hit rates of `queries` by the photo alone and by the photo and `phrase` (its colour word in it)
    with each of `engines` (words_weight -> engine)."""
    photo_engine = next(iter(engines.values()))  # without words the weight plays no part
    truth = colour_truth(photo_engine.index.products)
    alone, ranks = {}, {"photo": [], **{w: [] for w in engines}}
    for q in tqdm(queries, desc="Colour queries", unit="query", disable=not progress):
        relevant = truth[q.category, q.colour]
        if q.product not in alone:  # one search per photo, whatever its colour words
            alone[q.product] = clock.ranking(
                "photo", lambda q=q: photo_engine.search(photos[q.product], top_k=max(KS)).objects[0].products
            )
        ranks["photo"].append(first_hit(alone[q.product], relevant))
        for weight, engine in engines.items():
            ranking = clock.ranking(
                "words",
                lambda q=q, engine=engine: (
                    engine.search(photos[q.product], top_k=max(KS), words=phrase.format(q.colour)).objects[0].products
                ),
            )
            ranks[weight].append(first_hit(ranking, relevant))
    return {
        "queries": len(queries),
        "photos": len(alone),
        "photo": hit_rates(ranks["photo"]),
        "words": {str(w): hit_rates(ranks[w]) for w in engines},
    }


def evaluate_keywords(engine: Engine, queries: dict[str, dict[str, frozenset[str]]], clock: Timed) -> dict:
    """Mean precision@DEPTH of each variant's queries, and its ceiling (when every place it can fill is a hit)."""
    out = {}
    for variant, wanted in queries.items():
        found = {q: clock.ranking("text", lambda q=q: engine.search_text(q, top_k=DEPTH).products) for q in wanted}
        scores = [precision(found[q], relevant) for q, relevant in wanted.items()]
        ceilings = [min(DEPTH, len(relevant)) / DEPTH for relevant in wanted.values()]
        out[variant] = {
            "queries": len(wanted),  # a small catalog's half may have none: no figure then
            f"precision@{DEPTH}": mean(scores) if wanted else None,
            f"ceiling@{DEPTH}": mean(ceilings) if wanted else None,
        }
    return out


def read_photos(catalog: str | Path, columns: dict[str, str | None]) -> dict[str, Path]:
    """Product id -> its photo, from the catalog's own id and image columns (as the index read them)."""
    path = Path(catalog).resolve()
    with path.open(newline="", encoding="utf-8") as f:
        return {row[columns["id"]]: path.parent / row[columns["image"]] for row in csv.DictReader(f)}


def load(settings: Settings, progress: bool) -> Engine:
    """The engine without a detector (the whole photo is the query) over the index `settings` name, built if need be."""
    set_threads(settings.models.threads)
    index, encoder = ensure_index(settings.catalog, settings.models, build=True, progress=progress)
    wanted = settings.catalog.text_column_list
    if index.manifest.text_columns != wanted:  # ensure_index does not rebuild for them
        raise BenchmarkError(
            f"The index in {settings.catalog.index_dir} reads the text columns "
            f"{list(index.manifest.text_columns)}, not {list(wanted or ())}; "
            "remove it or give another --index."
        )
    return Engine(None, encoder, index, settings.search)


def format_table(results: dict, default: float) -> str:
    """One block per half: hit@K of each pipeline, then keyword precision."""
    lines = [f"{'half':<5} {'pipeline':<30}" + "".join(f"{f'hit@{k}':>8}" for k in KS)]
    for half, result in results.items():
        colour = result["colour"]
        rows = [("photo alone", colour["photo"])] + [
            (f"photo + words w={w}" + (" (default)" if float(w) == default else ""), rates)
            for w, rates in colour["words"].items()
        ]
        for i, (name, rates) in enumerate(rows):
            lines.append(f"{half if i == 0 else '':<5} {name:<30}" + "".join(f"{rates[f'hit@{k}']:>8.3f}" for k in KS))
        lines.append(f"{'':<5} {colour['queries']} colour queries on {colour['photos']} product photos")
        for variant, scores in result["keywords"].items():
            if scores["queries"]:
                lines.append(
                    f"{'':<5} keywords by {variant}: precision@{DEPTH} {scores[f'precision@{DEPTH}']:.3f} "
                    f"(ceiling {scores[f'ceiling@{DEPTH}']:.3f}), {scores['queries']} queries"
                )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.refine",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--catalog", required=True, help="products CSV (product_id, image_path, type, color, ...)")
    parser.add_argument("--encoder", help=f"encoder, a local folder or a Hub id (default: {DEFAULT_ENCODER})")
    parser.add_argument("--half", choices=HALVES, help="score one half only (default: each, apart)")
    parser.add_argument("--limit", type=int, help="score only the first N colour queries of each half")
    parser.add_argument(
        "--weights",
        default="0.05,0.1,0.2,0.4",
        type=lambda text: [float(w) for w in text.split(",")],
        help="words_weight values to try besides the settings' own (default: %(default)s)",
    )
    parser.add_argument(
        "--phrase", default="in {}", help="the words of a colour query, {} the colour (default: %(default)r)"
    )
    parser.add_argument("--out", help="write every figure and the settings used to this JSON file")
    parser.add_argument(
        "--index",
        help="index directory to reuse or build (default: a cache keyed by catalog, encoder and text columns)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override an engine setting (docs/settings.md), e.g. --set words_weight=0.2; repeatable",
    )
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _settings(args) -> Settings:
    overrides = parse_overrides(args.set)
    # The text columns are part of the cache key: the index keeps the ones it was built with.
    encoder = args.encoder or DEFAULT_ENCODER
    text = overrides.get("text_columns", TEXT_COLUMNS)
    given = {
        "encoder": args.encoder,
        "device": args.device,
        "catalog": args.catalog,
        "text_columns": TEXT_COLUMNS,
        "index_dir": args.index or str(cache_dir(args.catalog, f"{encoder}+text={text}")),
    }
    return Settings.of(**{k: v for k, v in {**given, **overrides}.items() if v is not None})


def _measure(args, settings: Settings):
    """The engine the settings make, one per words weight tried (sharing its index and models), the figures of
    each half, and the clock that timed them."""
    base = load(settings, progress=not args.no_progress)
    photos = read_photos(args.catalog, base.index.manifest.columns)
    engines = {
        w: Engine(None, base.encoder, base.index, replace(settings.search, words_weight=w))
        for w in sorted({*args.weights, settings.search.words_weight})
    }  # the index and models, shared
    products = base.index.products
    first = distinct(products)[0]  # warm-up: first-call allocations and lazy imports, not timed
    base.search(photos[first.id], words=args.phrase.format("white"))
    base.search_text(first.category or first.id)
    clock, results = Timed(), {}
    for half in [args.half] if args.half else HALVES:
        queries = colour_queries(products, half)[: args.limit]
        if not queries:
            raise BenchmarkError(
                f"No colour query in the {half} half of {args.catalog}: its products need "
                f"colour words ({', '.join(sorted(COLOURS))}) in a {COLOUR_COLUMN!r} column."
            )
        results[half] = {
            "colour": evaluate_colours(engines, photos, queries, clock, args.phrase, progress=not args.no_progress),
            "keywords": evaluate_keywords(base, keyword_queries(products, half), clock),
        }
    return base, engines, results, clock


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
        base, engines, results, clock = _measure(args, settings)
    except LookalikeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    report = {
        "results": results,
        "settings": {
            "catalog": str(Path(args.catalog).resolve()),
            "half": args.half,
            "limit": args.limit,
            "phrase": args.phrase,
            "weights": [float(w) for w in engines],
            "ks": list(KS),
            "default_weight": settings.search.words_weight,
            "index": str(base.index.path),
            "columns": base.index.manifest.columns,
            "text_columns": list(base.index.manifest.text_columns),
            "engine": settings.flat(),
            "versions": package_versions(),
        },
        "timing": {**clock.summary(), "device": base.encoder.device},
    }
    print(format_table(results, settings.search.words_weight))
    print("Mean ms per query: " + ", ".join(f"{k} {v}" for k, v in report["timing"].items()))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"Wrote {args.out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
