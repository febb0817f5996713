"""python -m search PHOTO --index DIR: print the search result as JSON."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from core.errors import LookalikeError
from core.images import load_image
from core.settings import Settings

from .engine import load_engine
from .query import check_conf, check_top_k


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m search", description="Find catalog products in a photo.")
    parser.add_argument("photo", help="path of the photo")
    parser.add_argument("--index", help="index directory (default: $LOOKALIKE_INDEX_DIR or the user cache)")
    parser.add_argument("--detector", help="YOLO weights (default: $LOOKALIKE_DETECTOR or yolo11n.pt)")
    parser.add_argument("--encoder", help="encoder (default: the one the index was built with)")
    parser.add_argument("--top-k", type=int, help="products per object, 1 to 30 (default: $LOOKALIKE_TOP_K or 10)")
    parser.add_argument(
        "--conf", type=float, help="the score an object needs to be listed (default: $LOOKALIKE_CONF or 0.25)"
    )
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    args = parser.parse_args(argv)

    out = sys.stdout
    try:
        # Standard output carries the result alone: what the libraries print (ultralytics announces
        # its settings file on a first run) goes to standard error.
        with contextlib.redirect_stdout(sys.stderr):
            settings = Settings.from_env(
                index_dir=args.index, detector=args.detector, encoder=args.encoder, device=args.device
            )
            # A bad request or photo fails before any model loads.
            top_k = None if args.top_k is None else check_top_k(args.top_k)
            conf = None if args.conf is None else check_conf(args.conf)
            photo = load_image(args.photo, settings.search.max_pixels)
            result = load_engine(settings).search(photo, top_k, conf)
    except LookalikeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(result.to_dict(), out, indent=2, ensure_ascii=False)
    print(file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
