"""python -m index build --source SRC --out DIR [--encoder E] [--ray ADDRESS] ...
python -m index update --index DIR [--source SRC] ...  (new and changed photos embedded, removed ones dropped)
python -m index inspect SRC ...  (build's catalog flags: how it would be read, embedding nothing)
python -m index push --repo OWNER/NAME [--index DIR] ..."""

from __future__ import annotations

import argparse
import logging
import sys
from functools import partial

from core.defaults import DEFAULT_CATALOG, DEFAULT_ENCODER
from core.errors import LookalikeError
from core.settings import THUMBNAILS, VECTOR_INDEXES, CatalogSettings, Settings
from index.builder import hub
from index.builder.build import build_index
from index.builder.hubbed import load_hubbed
from index.builder.ray_embed import build_on_ray
from index.builder.update import update_index
from index.catalog.inspect import inspect as inspect_catalog
from index.catalog.open import open_catalog
from index.catalog.source import CatalogError, CatalogSource, ColumnMap, Reading
from index.store.kinds import load_kind_rules
from index.store.versions import read_live_manifest
from models.encoder import encoder_for
from models.runtime import set_threads

from .errors import IndexMismatchError, IndexNotFoundError

FIELDS = ("image", "id", "name", "category", "price", "link", "popularity", "more_images")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return {"build": _build, "update": _update, "inspect": _inspect, "push": _push}[args.command](args)
    except LookalikeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m index", description="Build a Lookalike catalog index.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="embed a catalog into an index directory")
    update = commands.add_parser(
        "update",
        help="bring an index up to date with its catalog: new and changed photos embedded, removed products dropped",
    )
    inspect = commands.add_parser("inspect", help="show how a catalog would be read, embedding nothing")
    inspect.add_argument("source", nargs="?", help="as --source of build")
    for command in (build, update, inspect):
        _catalog_options(command)
    _build_options(build)
    _update_options(update)
    for command in (build, update):
        command.add_argument(
            "--thumbnails",
            choices=THUMBNAILS,
            help="a web image's thumbnail: a copy in the index, or its link (default: "
            "$LOOKALIKE_THUMBNAILS or copy; an update: as the index keeps them)",
        )
        command.add_argument(
            "--close-up-share",
            type=float,
            help="the middle share of each photo's sides embedded besides, which a photo of one product is matched "
            "against; 1: none (default: $LOOKALIKE_CLOSE_UP_SHARE or 0.7)",
        )
    _push_options(commands.add_parser("push", help="upload a built index to a Hugging Face Hub dataset repository"))
    return parser


def _build_options(build) -> None:
    build.add_argument("--out", help="index directory (default: $LOOKALIKE_INDEX_DIR or the user cache)")
    build.add_argument("--encoder", help=f"model id or folder (default: $LOOKALIKE_ENCODER or {DEFAULT_ENCODER})")
    build.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    build.add_argument("--batch-size", type=int, help="images embedded at once (default: $LOOKALIKE_BATCH_SIZE or 32)")
    build.add_argument(
        "--hub-views",
        type=int,
        help="views in rooms its photos' hubness is measured on, one each of this many photos at most; 0: none "
        "(default: $LOOKALIKE_HUB_VIEWS or 1000)",
    )
    build.add_argument(
        "--photo-share",
        type=float,
        help="the middle share of each photo's sides that is embedded; 0.79 finds more photos of one product, "
        "less of a room's furniture (default: $LOOKALIKE_PHOTO_SHARE or 1)",
    )
    build.add_argument(
        "--vector-index",
        choices=VECTOR_INDEXES,
        help="exact or approximate (HNSW) search; auto: exact up to 20,000 photos; milvus: exact, "
        "in Milvus (default: $LOOKALIKE_VECTOR_INDEX or auto)",
    )
    build.add_argument(
        "--milvus-uri",
        help="with --vector-index milvus: a server's URL (http://host:19530) or a "
        "Milvus Lite folder *.db (default: $LOOKALIKE_MILVUS_URI or milvus.db "
        "in the index directory)",
    )
    build.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="embed on a Ray cluster: local (one started here), auto (the "
        "cluster this machine is part of) or ray://HOST:10001 "
        "(pip install -r requirements-scale.txt)",
    )
    build.add_argument(
        "--ray-shards",
        metavar="DIR",
        help="with --ray: where the cluster writes the embeddings, "
        "storage every node writes to (a shared folder, s3://...; "
        "default: ray-shards in the index directory)",
    )


def _update_options(update) -> None:
    update.add_argument(
        "--index",
        help="index directory (default: $LOOKALIKE_INDEX_DIR or the user cache); "
        "the catalog flags default to what it was built from",
    )
    update.add_argument("--encoder", help="model id or folder (default: the one the index was built with)")
    update.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    update.add_argument("--batch-size", type=int, help="images embedded at once (default: $LOOKALIKE_BATCH_SIZE or 32)")
    update.add_argument("--hub-views", type=int, help="as build's, when its photos changed")
    update.add_argument("--vector-index", choices=VECTOR_INDEXES, help="as build's (default: the index's own)")
    update.add_argument("--milvus-uri", help="with --vector-index milvus: as build's")


def _push_options(push) -> None:
    push.add_argument("--repo", required=True, help="OWNER/NAME of the dataset repository (made when missing)")
    push.add_argument("--index", help="index directory (default: $LOOKALIKE_INDEX_DIR or the user cache)")
    push.add_argument(
        "--license",
        help="the catalog's license as a Hub license id (default: cc-by-4.0 for the default catalog, else other)",
    )
    push.add_argument("--private", action="store_true", help="make the repository private")
    push.add_argument("--stage", metavar="DIR", help="write what would be uploaded into DIR, and upload nothing")


def _inspect(args) -> int:
    settings = _settings(args, source=args.source or args.source_flag)
    columns, reading = _reading(args, settings.catalog)
    print(inspect_catalog(settings.catalog.source, columns, reading))
    return 0


def _build(args) -> int:
    settings = _settings(
        args,
        source=args.source_flag,
        index_dir=args.out,
        encoder=args.encoder,
        device=args.device,
        batch_size=args.batch_size,
        hub_views=args.hub_views,
        vector_index=args.vector_index,
        milvus_uri=args.milvus_uri,
        thumbnails=args.thumbnails,
        photo_share=args.photo_share,
        close_up_share=args.close_up_share,
    )
    wanted, models = settings.catalog, settings.models
    if hub.hub_index(wanted.index_dir):
        raise IndexNotFoundError(
            f"An index is built into a folder, not {wanted.index_dir}; build it, then "
            f"`python -m index push --repo OWNER/NAME --index DIR`."
        )
    catalog = open_catalog(wanted.source, *_reading(args, wanted))
    set_threads(models.threads)  # before the encoder loads: its ONNX Runtime session takes the count then
    encoder = encoder_for(models.encoder or DEFAULT_ENCODER, models)
    builder = partial(build_on_ray, address=args.ray, shards=args.ray_shards) if args.ray else build_index
    report = builder(
        catalog,
        encoder,
        wanted.index_dir,
        batch_size=wanted.batch_size,
        rules=load_kind_rules(wanted.kind_rules),
        vector_index=wanted.vectors,
        thumbnails=wanted.thumbnails,
        photo_share=wanted.photo_share,
    )
    print(report.summary())
    _hubs_measured(wanted.index_dir, encoder, wanted)
    return 0


def _update(args) -> int:
    directory = Settings.from_env(index_dir=args.index).catalog.index_dir
    if hub.hub_index(directory):
        raise IndexNotFoundError(
            "An index on the Hub is not updated in place; update the folder it was built in, then push it again."
        )
    manifest = read_live_manifest(directory)
    _built_from(args, manifest.source)
    settings = _settings(
        args,
        source=args.source_flag,
        index_dir=directory,
        device=args.device,
        batch_size=args.batch_size,
        hub_views=args.hub_views,
        vector_index=args.vector_index,
        milvus_uri=args.milvus_uri,
        close_up_share=args.close_up_share,
    )
    wanted, models = settings.catalog, settings.models
    rules = load_kind_rules(wanted.kind_rules)
    if rules.sha256 != manifest.kind_rules:
        raise IndexMismatchError(
            f"The index in {directory} was built with other kind rules than "
            f"{wanted.kind_rules or 'the built-in ones'}; update it with those it was built "
            f"with (LOOKALIKE_KIND_RULES), or rebuild it."
        )
    catalog = open_catalog(wanted.source, *_reading(args, wanted))
    set_threads(models.threads)
    encoder = encoder_for(args.encoder or manifest.encoder.name, models)
    report = update_index(
        catalog,
        encoder,
        directory,
        batch_size=wanted.batch_size,
        rules=rules,
        vector_index=wanted.vectors if args.vector_index else None,
        thumbnails=args.thumbnails,
    )
    print(report.summary())
    _hubs_measured(directory, encoder, wanted)
    return 0


def _hubs_measured(directory: str, encoder, wanted: CatalogSettings) -> None:
    """The index's photos' hubness and close-ups measured where it has none (after a build, or an update that
    changed photos)."""
    index = load_hubbed(directory, encoder, wanted.hub_views, close_up_share=wanted.close_up_share)
    if index.manifest.hubness:
        print(f"Its photos' hubness is measured on {index.manifest.hubness.views} views in rooms.")
    if index.manifest.close_ups:
        print(f"The middle {index.manifest.close_ups.share:g} of each photo is embedded for photos of one product.")


def _built_from(args, source: CatalogSource) -> None:
    """The catalog flags left out filled in with what the index was built from (not its revision: an
    update reads the catalog as it is now; $LOOKALIKE_CATALOG is not read, so that an update never swaps
    the catalog unasked). Link templates and images stored apart are not recorded: name them again."""
    recorded = source.id if source.type == "hub" else source.path if source.type in ("local", "disk") else None
    args.source_flag = args.source_flag or recorded
    if args.source_flag is None:
        raise CatalogError(
            f"The index was built from {source.describe()}, which cannot be read again; name the catalog with --source."
        )
    if not source.is_named_by(args.source_flag):
        return
    for flag, value in (
        ("config", source.config),
        ("keep", source.kept),
        ("limit", source.limit),
        ("credit", source.credit),
        ("name", source.name),
    ):
        if getattr(args, flag) is None:
            setattr(args, flag, value)
    if source.split and args.split == "train":
        args.split = source.split


def _catalog_options(command) -> None:
    """The flags that say which catalog is read and how: `build` and `inspect` share them."""
    command.add_argument(
        "--source",
        dest="source_flag",
        help="Hub dataset id, datasets folder, or CSV/JSONL manifest or feed (default: $LOOKALIKE_CATALOG)",
    )
    command.add_argument("--split", default="train", help="dataset split (Hub and datasets folders)")
    command.add_argument("--revision", help="dataset revision (Hub datasets)")
    command.add_argument("--config", help="dataset configuration (Hub datasets; default: $LOOKALIKE_CATALOG_CONFIG)")
    command.add_argument(
        "--images",
        help="images stored apart, by id: CONFIG:column=column or "
        "OWNER/NAME:column=column (default: $LOOKALIKE_CATALOG_IMAGES)",
    )
    command.add_argument(
        "--keep", help="only rows with one of these values: column=value,value (default: $LOOKALIKE_CATALOG_KEEP)"
    )
    command.add_argument(
        "--prefer", help="rows the cap takes first: column=value,value (default: $LOOKALIKE_CATALOG_PREFER)"
    )
    command.add_argument(
        "--limit",
        type=int,
        help="at most N products, spread over the categories, the same "
        "on every run (default: $LOOKALIKE_CATALOG_LIMIT; 0: all)",
    )
    command.add_argument(
        "--link-template",
        help="a link made from the columns where none holds one, e.g. "
        "https://www.amazon.com/dp/{item_id} "
        "(default: $LOOKALIKE_LINK_TEMPLATE)",
    )
    command.add_argument(
        "--credit", help="the catalog's attribution and license, shown on the page (default: $LOOKALIKE_CATALOG_CREDIT)"
    )
    command.add_argument(
        "--name",
        help="the catalog's name for people, shown on the page (default: "
        "$LOOKALIKE_CATALOG_NAME, or its folder or Hub id)",
    )
    for column in FIELDS:
        command.add_argument(
            f"--{column.replace('_', '-')}-column",
            dest=f"{column}_column",
            help=f"catalog column holding the product's {column.replace('_', ' ')}",
        )
    command.add_argument(
        "--text-columns",
        help="comma-separated columns text search reads besides name and "
        "category (default: $LOOKALIKE_TEXT_COLUMNS, or every column "
        "holding words)",
    )


def _settings(args, **given) -> Settings:
    return Settings.from_env(
        catalog=given.pop("source"),
        text_columns=args.text_columns,
        catalog_config=args.config,
        catalog_keep=args.keep,
        catalog_prefer=args.prefer,
        catalog_limit=args.limit,
        catalog_images=args.images,
        link_template=args.link_template,
        catalog_credit=args.credit,
        catalog_name=args.name,
        **given,
    )


def _reading(args, wanted) -> tuple[ColumnMap, Reading]:
    columns = ColumnMap(**{c: getattr(args, f"{c}_column") for c in FIELDS}, text=wanted.text_column_list)
    return columns, Reading.from_settings(wanted, args.split, args.revision)


def _push(args) -> int:
    try:
        directory = Settings.from_env(index_dir=args.index).catalog.index_dir
        manifest = read_live_manifest(directory)
        license = args.license or ("cc-by-4.0" if manifest.source.id == DEFAULT_CATALOG else "other")
        if args.stage:
            print(
                f"Staged the index for {args.repo} in {hub.stage(directory, args.stage, license)}; "
                f"nothing was uploaded."
            )
            return 0
        commit = hub.push(directory, args.repo, license, private=args.private)
    except OSError as exc:  # the Hub's HTTP errors, and a stage folder in the way
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"Pushed to https://huggingface.co/datasets/{args.repo} (commit {commit}). Serve it with "
        f"LOOKALIKE_INDEX_DIR=hf://datasets/{args.repo}@{commit}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
