"""python -m index build --source SRC --out DIR [--encoder E] ...
python -m index push --repo OWNER/NAME [--index DIR] ...
python -m index detector --source SRC --base WEIGHTS [--out FILE.pt] ..."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.errors import LookalikeError
from core.images import ImageError, load_image
from core.settings import DEFAULT_CATALOG, DEFAULT_ENCODER, Settings, cache_root
from models.detector import load_yolo, train_detector
from models.encoder import load_encoder
from models.runtime import set_threads
from search.kinds import ProductKinds, load_kind_rules

from . import hub
from .build import build_index
from .catalog import ColumnMap, Reading, open_catalog
from .errors import IndexNotFoundError
from .store import read_live_manifest
from .synthetic import write_dataset

FIELDS = ("image", "id", "name", "category", "price", "link", "popularity")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m index", description="Build a Lookalike catalog index.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="embed a catalog into an index directory")
    build.add_argument("--source", help="Hub dataset id, datasets folder, or CSV/JSONL manifest "
                                        "(default: $LOOKALIKE_CATALOG)")
    build.add_argument("--out", help="index directory (default: $LOOKALIKE_INDEX_DIR or the user cache)")
    build.add_argument("--encoder", help=f"model id or folder (default: $LOOKALIKE_ENCODER or {DEFAULT_ENCODER})")
    build.add_argument("--split", default="train", help="dataset split (Hub and datasets folders)")
    build.add_argument("--revision", help="dataset revision (Hub datasets)")
    build.add_argument("--config", help="dataset configuration (Hub datasets; default: $LOOKALIKE_CATALOG_CONFIG)")
    build.add_argument("--keep", help="only rows with one of these values: column=value,value "
                                      "(default: $LOOKALIKE_CATALOG_KEEP)")
    build.add_argument("--link-template", help="a link made from the columns where none holds one, e.g. "
                                               "https://www.amazon.com/dp/{item_id} "
                                               "(default: $LOOKALIKE_LINK_TEMPLATE)")
    build.add_argument("--credit", help="the catalog's attribution and license, shown on the page "
                                        "(default: $LOOKALIKE_CATALOG_CREDIT)")
    build.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    build.add_argument("--batch-size", type=int, help="images embedded at once (default: $LOOKALIKE_BATCH_SIZE or 32)")
    for column in FIELDS:
        build.add_argument(f"--{column}-column", help=f"catalog column holding the product {column}")
    build.add_argument("--text-columns", help="comma-separated columns text search reads besides name and category "
                                              "(default: $LOOKALIKE_TEXT_COLUMNS, or every column holding words)")
    push = commands.add_parser("push", help="upload a built index to a Hugging Face Hub dataset repository")
    push.add_argument("--repo", required=True, help="OWNER/NAME of the dataset repository (made when missing)")
    push.add_argument("--index", help="index directory (default: $LOOKALIKE_INDEX_DIR or the user cache)")
    push.add_argument("--license", help="the catalog's license as a Hub license id (default: cc-by-4.0 for the "
                                        "default catalog, else other)")
    push.add_argument("--private", action="store_true", help="make the repository private")
    push.add_argument("--stage", metavar="DIR", help="write what would be uploaded into DIR, and upload nothing")
    detector = commands.add_parser("detector", help="train a detector of the catalog's own kinds on synthetic "
                                                   "scenes cut and pasted from its photos")
    detector.add_argument("--source", help="the catalog, as for build (default: $LOOKALIKE_CATALOG)")
    detector.add_argument("--base", required=True, help="YOLO weights (.pt) to fine-tune from")
    detector.add_argument("--out", help="weights file to write (default: <user cache>/lookalike/detectors/"
                                        "<catalog>.pt); its scenes go beside it")
    detector.add_argument("--category-column", help="catalog column holding the product category")
    detector.add_argument("--kind-rules", help="JSON kind rules (default: $LOOKALIKE_KIND_RULES or the built-in ones)")
    detector.add_argument("--min-photos", type=int, default=8, help="a kind is learnt when it has this many photos")
    detector.add_argument("--scenes", type=int, default=2400, help="synthetic training scenes")
    detector.add_argument("--epochs", type=int, default=10)
    detector.add_argument("--imgsz", type=int, default=320, help="training input size")
    detector.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.command == "push":
        return _push(args)
    if args.command == "detector":
        return _detector(args)
    try:
        settings = Settings.from_env(catalog=args.source, index_dir=args.out, encoder=args.encoder,
                                     device=args.device, batch_size=args.batch_size, text_columns=args.text_columns,
                                     catalog_config=args.config, catalog_keep=args.keep,
                                     link_template=args.link_template, catalog_credit=args.credit)
        columns = ColumnMap(**{c: getattr(args, f"{c}_column") for c in FIELDS}, text=settings.text_column_list)
        if hub.hub_index(settings.index_dir):
            raise IndexNotFoundError(f"An index is built into a folder, not {settings.index_dir}; build it, then "
                                     f"`python -m index push --repo OWNER/NAME --index DIR`.")
        catalog = open_catalog(settings.catalog, columns, Reading.from_settings(settings, args.split, args.revision))
        encoder = load_encoder(settings.encoder or DEFAULT_ENCODER, device=settings.device)
        set_threads(settings.threads)
        report = build_index(catalog, encoder, settings.index_dir, batch_size=settings.batch_size)
    except LookalikeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def _push(args) -> int:
    try:
        settings = Settings.from_env(index_dir=args.index)
        manifest = read_live_manifest(settings.index_dir)
        license = args.license or ("cc-by-4.0" if manifest.source.id == DEFAULT_CATALOG else "other")
        if args.stage:
            print(f"Staged the index for {args.repo} in {hub.stage(settings.index_dir, args.stage, license)}; "
                  f"nothing was uploaded.")
            return 0
        commit = hub.push(settings.index_dir, args.repo, license, private=args.private)
    except (LookalikeError, OSError) as exc:  # OSError: the Hub's HTTP errors, and a stage folder in the way
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Pushed to https://huggingface.co/datasets/{args.repo} (commit {commit}). Serve it with "
          f"LOOKALIKE_INDEX_DIR=hf://datasets/{args.repo}@{commit}")
    return 0


def _detector(args) -> int:
    """Scenes of the kinds the catalog sells and no detector class covers (`ProductKinds.others`),
    then a fine-tune of `--base` on them. Weights derived from a licensed catalog stay in the cache."""
    try:
        settings = Settings.from_env(catalog=args.source, kind_rules=args.kind_rules, device=args.device)
        catalog = open_catalog(settings.catalog, ColumnMap(category=args.category_column),
                               Reading.from_settings(settings))
        items = list(catalog)
        kinds = ProductKinds([item.category for item in items], load_kind_rules(settings.kind_rules))
        names = sorted(noun for noun, rows in kinds.others.items() if len(rows) >= args.min_photos)
        if not names:
            raise LookalikeError(f"No kind of the catalog outside the detector's classes has {args.min_photos} "
                                 f"photos or more: there is nothing to learn.")
        kind_of_row = {int(row): i for i, noun in enumerate(names) for row in kinds.others[noun]}
        base = load_yolo(args.base)  # before the scenes: bad weights are told at once
        out = Path(args.out or cache_root() / "detectors" / f"{catalog.source.title.replace('/', '--')}.pt")
        photos = _readable((items[row].image, kind) for row, kind in sorted(kind_of_row.items()))
        data = write_dataset(photos, names, out.parent / f"{out.stem}-scenes", train=args.scenes,
                             val=max(20, args.scenes // 12))
        samples = [load_image(p) for p in sorted((data.parent / "images" / "train").glob("*.jpg"))[:64]]
        weights = train_detector(data, base, out, samples=samples, epochs=args.epochs, imgsz=args.imgsz,
                                 device=settings.device, threads=settings.threads)
    except (LookalikeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"Trained a detector of {len(names)} kinds ({', '.join(names)}) into {weights}. Use it with "
          f"LOOKALIKE_CATALOG_DETECTOR={weights}")
    return 0


def _readable(photos):
    """(image, kind) pairs decoded; an unreadable photo is left out, as an index build does."""
    for image, kind in photos:
        try:
            yield load_image(image), kind
        except ImageError:
            continue


if __name__ == "__main__":
    sys.exit(main())
