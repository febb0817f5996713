"""python -m train detector --source SRC --base WEIGHTS [--out FILE.pt] ...: a detector of the catalog's own kinds.
python -m train adapt [--index DIR] ...: the index's encoder adapted to its catalog's photos.
python -m train block [--index DIR] ...: the index's encoder's last block tuned to its catalog's photos.
python -m train hubs [--index DIR] ...: the catalog photos' hubness, which the engine lowers their similarity by."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import LookalikeError
from core.images import ImageError, load_image
from core.paths import cache_root
from core.settings import Settings
from index.builder.hubbed import VIEWS, measure_hubs
from index.catalog.open import open_catalog
from index.catalog.source import ColumnMap, Reading
from index.catalog_index import CatalogIndex
from index.store.kinds import ProductKinds, load_kind_rules
from index.store.versions import read_live_manifest
from models.detector import load_yolo
from models.encoder import encoder_for
from models.runtime import set_threads

from .adapt import FitSettings, adapt_index
from .block import BlockSettings, tune_block
from .detector import train_detector
from .synthetic import write_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train", description="Teach Lookalike's models a catalog.")
    commands = parser.add_subparsers(dest="command", required=True)
    detector = commands.add_parser(
        "detector",
        help="train a detector of the catalog's own kinds on synthetic scenes cut and pasted from its photos",
    )
    detector.add_argument("--source", help="the catalog, as for build (default: $LOOKALIKE_CATALOG)")
    detector.add_argument("--base", required=True, help="YOLO weights (.pt) to fine-tune from")
    detector.add_argument(
        "--out",
        help="weights file to write (default: <user cache>/lookalike/detectors/<catalog>.pt); its scenes go beside it",
    )
    detector.add_argument("--category-column", help="catalog column holding the product category")
    detector.add_argument("--kind-rules", help="JSON kind rules (default: $LOOKALIKE_KIND_RULES or the built-in ones)")
    detector.add_argument("--min-photos", type=int, default=8, help="a kind is learnt when it has this many photos")
    detector.add_argument("--scenes", type=int, default=2400, help="synthetic training scenes")
    detector.add_argument("--epochs", type=int, default=10)
    detector.add_argument("--imgsz", type=int, default=320, help="training input size")
    detector.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    adapt = commands.add_parser(
        "adapt",
        help="adapt the index's encoder to its catalog: its products' views in "
        "rooms, made from their photos, brought near those photos",
    )
    _index_flags(adapt)
    adapt.add_argument("--views", type=int, default=4, help="views made of each catalog photo (default: %(default)s)")
    adapt.add_argument(
        "--epochs", type=int, default=FitSettings.epochs, help="passes over the views (default: %(default)s)"
    )
    block = commands.add_parser(
        "block",
        help="tune the last block of the index's encoder to its catalog: its products' views in rooms, "
        "made from their photos, brought near those photos",
    )
    _index_flags(block)
    block.add_argument(
        "--views",
        type=int,
        default=BlockSettings.per_photo,
        help="views made of each catalog photo (default: %(default)s)",
    )
    block.add_argument(
        "--epochs", type=int, default=BlockSettings.epochs, help="passes over the views (default: %(default)s)"
    )
    hubs = commands.add_parser(
        "hubs",
        help="measure how near each catalog photo lies to views in rooms of other products; the engine "
        "lowers hubs' similarity (LOOKALIKE_HUB_WEIGHT)",
    )
    _index_flags(hubs)
    hubs.add_argument("--views", type=int, default=VIEWS, help="views in rooms to measure on (default: %(default)s)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    return {"adapt": _adapt, "block": _block, "hubs": _hubs}.get(args.command, _detector)(args)


def _index_flags(command: argparse.ArgumentParser) -> None:
    """The flags of a command that writes a new version of an index: which index, where, on what."""
    command.add_argument(
        "--index",
        help="index directory (default: $LOOKALIKE_INDEX_DIR or the user cache); "
        "the new index becomes its live version",
    )
    command.add_argument("--out", help="write the new index into this directory instead, leaving --index as it is")
    command.add_argument("--encoder", help="the encoder the index was built with (default: the one it names)")
    command.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    command.add_argument("--no-progress", action="store_true")


def _index_and_encoder(args) -> tuple[Settings, CatalogIndex, object]:
    """The settings `_index_flags` give, the live index of their directory and the encoder it was built with
    (or the one named, which the command checks against the index)."""
    settings = Settings.from_env(index_dir=args.index, encoder=args.encoder, device=args.device)
    set_threads(settings.models.threads)
    directory = settings.catalog.index_dir
    encoder = encoder_for(settings.models.encoder or read_live_manifest(directory).encoder.name, settings.models)
    return settings, CatalogIndex.load(directory), encoder


def _on_index(args, work: Callable[[Settings, CatalogIndex, Any], str], refused: str | None = None) -> int:
    """`work(settings, index, encoder)` on the index and encoder `_index_flags` name, what it says printed;
    or, exit status 2, the flags `refused` before any work, or the error the work met."""
    try:
        if refused:
            raise ValueError(refused)
        said = work(*_index_and_encoder(args))
    except (LookalikeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(said)
    return 0


def _hubs(args) -> int:
    def work(settings: Settings, index: CatalogIndex, encoder) -> str:
        path, info, seconds = measure_hubs(
            index,
            encoder,
            views=args.views,
            padding=settings.search.crop_padding,
            out_dir=args.out,
            progress=not args.no_progress,
            close_up_share=settings.catalog.close_up_share,
        )
        return (
            f"Measured the hubness of {len(index)} catalog photos on {info.views} views in rooms "
            f"({info.neighbours} nearest each) in {seconds:.0f} s, into {path}."
        )

    return _on_index(args, work, None if args.views >= 2 else f"--views must be at least 2, got {args.views}.")


def _adapt(args) -> int:
    def work(settings: Settings, index: CatalogIndex, encoder) -> str:
        path, report = adapt_index(
            index,
            encoder,
            per_photo=args.views,
            settings=FitSettings(epochs=args.epochs),
            padding=settings.search.crop_padding,
            out_dir=args.out,
            progress=not args.no_progress,
        )
        return (
            f"Adapted {len(index)} catalog photos' vectors into {path} in {report.seconds:.0f} s of fitting on "
            f"{report.views} views. Held views nearest their own product: {report.held_top1_before:.3f} with the "
            f"frozen encoder, {report.held_top1_after:.3f} adapted."
        )

    return _on_index(args, work)


def _block(args) -> int:
    def work(settings: Settings, index: CatalogIndex, encoder) -> str:
        path, report = tune_block(
            index,
            encoder,
            settings=BlockSettings(per_photo=args.views, epochs=args.epochs),
            padding=settings.search.crop_padding,
            out_dir=args.out,
            progress=not args.no_progress,
        )
        return (
            f"Tuned {report.weights:,} weights of the encoder's last block on {report.views} views in "
            f"{report.seconds:.0f} s, and embedded {len(index)} catalog photos with them into {path}. Held views "
            f"nearest their own product: {report.held_top1_before:.3f} with the frozen encoder, "
            f"{report.held_top1_after:.3f} tuned."
        )

    flags_ok = args.views >= 1 and args.epochs >= 1
    refused = f"--views and --epochs must be at least 1, got {args.views} and {args.epochs}."
    return _on_index(args, work, None if flags_ok else refused)


def _detector(args) -> int:
    """Scenes of the kinds the catalog sells and no detector class covers (`ProductKinds.others`),
    then a fine-tune of `--base` on them. Weights derived from a licensed catalog stay in the cache."""
    try:
        settings = Settings.from_env(catalog=args.source, kind_rules=args.kind_rules, device=args.device)
        catalog = open_catalog(
            settings.catalog.source, ColumnMap(category=args.category_column), Reading.from_settings(settings.catalog)
        )
        items = list(catalog)
        rules = load_kind_rules(settings.catalog.kind_rules)
        kinds = ProductKinds.of_categories([item.category for item in items], rules)
        names = sorted(noun for noun, rows in kinds.others.items() if len(rows) >= args.min_photos)
        if not names:
            raise LookalikeError(
                f"No kind of the catalog outside the detector's classes has {args.min_photos} "
                f"photos or more: there is nothing to learn."
            )
        kind_of_row = {int(row): i for i, noun in enumerate(names) for row in kinds.others[noun]}
        base = load_yolo(args.base)  # before the scenes: bad weights are told at once
        out = Path(args.out or cache_root() / "detectors" / f"{catalog.source.title.replace('/', '--')}.pt")
        photos = _readable((items[row].image, kind) for row, kind in sorted(kind_of_row.items()))
        data = write_dataset(
            photos, names, out.parent / f"{out.stem}-scenes", train=args.scenes, val=max(20, args.scenes // 12)
        )
        samples = [load_image(p) for p in sorted((data.parent / "images" / "train").glob("*.jpg"))[:64]]
        weights = train_detector(
            data,
            base,
            out,
            samples=samples,
            epochs=args.epochs,
            imgsz=args.imgsz,
            device=settings.models.device,
            threads=settings.models.threads,
        )
    except (LookalikeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"Trained a detector of {len(names)} kinds ({', '.join(names)}) into {weights}. Use it with "
        f"LOOKALIKE_CATALOG_DETECTOR={weights}"
    )
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
