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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m search", description="Find catalog products in a photo.")
    parser.add_argument("photo", help="path of the photo")
    parser.add_argument("--index", help="index directory (default: $LOOKALIKE_INDEX_DIR or the user cache)")
    parser.add_argument("--detector", help="YOLO weights (default: $LOOKALIKE_DETECTOR or yolo11n.pt)")
    parser.add_argument("--encoder", help="encoder (default: the one the index was built with)")
    parser.add_argument("--top-k", type=int, help="products per object (default 10)")
    parser.add_argument("--conf", type=float, help="detection confidence threshold (default 0.25)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when present)")
    args = parser.parse_args(argv)

    out = sys.stdout
    try:
        # Standard output carries the result alone: what the libraries print (ultralytics announces
        # its settings file on a first run) goes to standard error.
        with contextlib.redirect_stdout(sys.stderr):
            settings = Settings.from_env(index_dir=args.index, detector=args.detector, encoder=args.encoder,
                                         top_k=args.top_k, conf=args.conf, device=args.device)
            photo = load_image(args.photo, settings.max_pixels)  # a bad photo fails before any model loads
            result = load_engine(settings).search(photo)
    except LookalikeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(result.to_dict(), out, indent=2, ensure_ascii=False)
    print(file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
