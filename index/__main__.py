"""python -m index build --source SRC --out DIR [--encoder E] ..."""

from __future__ import annotations

import argparse
import logging
import sys

from core.errors import LookalikeError
from core.settings import DEFAULT_ENCODER, Settings
from models.encoder import load_encoder
from models.runtime import set_threads

from .build import build_index
from .catalog import ColumnMap, Reading, open_catalog

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
                                               "https://www.amazon.com/dp/{item_id} (default: $LOOKALIKE_LINK_TEMPLATE)")
    build.add_argument("--credit", help="the catalog's attribution and license, shown on the page "
                                        "(default: $LOOKALIKE_CATALOG_CREDIT)")
    build.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    build.add_argument("--batch-size", type=int, help="images embedded at once (default: $LOOKALIKE_BATCH_SIZE or 32)")
    for column in FIELDS:
        build.add_argument(f"--{column}-column", help=f"catalog column holding the product {column}")
    build.add_argument("--text-columns", help="comma-separated columns text search reads besides name and category "
                                              "(default: $LOOKALIKE_TEXT_COLUMNS, or every column holding words)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        settings = Settings.from_env(catalog=args.source, index_dir=args.out, encoder=args.encoder,
                                     device=args.device, batch_size=args.batch_size, text_columns=args.text_columns,
                                     catalog_config=args.config, catalog_keep=args.keep,
                                     link_template=args.link_template, catalog_credit=args.credit)
        columns = ColumnMap(**{c: getattr(args, f"{c}_column") for c in FIELDS}, text=settings.text_column_list)
        catalog = open_catalog(settings.catalog, columns, Reading.from_settings(settings, args.split, args.revision))
        encoder = load_encoder(settings.encoder or DEFAULT_ENCODER, device=settings.device)
        set_threads(settings.threads)
        report = build_index(catalog, encoder, settings.index_dir, batch_size=settings.batch_size)
    except LookalikeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
