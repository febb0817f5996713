"""How soon `python app.py` answers its first search, against the bare imports, side by side.

    python -m bench.startup --index DIR --detector ../shared/assets/yolo11n-coco-int8rebuilt.pt \
        --encoder ../shared/assets/mobilenet-v2-imagenet --photo examples/bedroom.jpg

Each run times, one after the other: `python -c "import gradio, torch, transformers, ultralytics,
faiss"` (the bare imports); the same plus what loading the models imports besides (torchvision, which
transformers' image processors import when it is installed, transformers' model classes and
ultralytics' YOLO: the floor no start can go under); then `python app.py` over the index already in
DIR, from its launch to `/gradio_api/info` answering, to its first `/search` through `gradio_client`
completing, and then warm searches of the same photo. The figures are the medians over `--runs`.
Goals (issue 14): the first search done within the bare imports + 2.5 s, and taking at most 1.2x a
warm one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.served import start_app

IMPORTS = "import gradio, torch, transformers, ultralytics, faiss"
MODEL_IMPORTS = IMPORTS + "; import torchvision.ops; from transformers import AutoModel; from ultralytics import YOLO"
GOAL_AFTER_IMPORTS_S = 2.5
GOAL_FIRST_OVER_WARM = 1.2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="an index directory already built")
    parser.add_argument("--detector", required=True)
    parser.add_argument("--encoder", help="default: the index's encoder")
    parser.add_argument("--photo", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm", type=int, default=3, help="warm searches after the first, per run")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)

    settings = {
        "LOOKALIKE_INDEX_DIR": args.index,
        "LOOKALIKE_DETECTOR": args.detector,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    if args.encoder:
        settings["LOOKALIKE_ENCODER"] = args.encoder
    runs = [_run(settings, args.photo, args.warm) for _ in range(args.runs)]
    for run in runs:  # side by side within a run: the machine's speed drifts between runs
        run["first_done_after_imports_s"] = round(run["first_done_s"] - run["imports_s"], 2)
        run["first_done_after_model_imports_s"] = round(run["first_done_s"] - run["model_imports_s"], 2)
        run["first_over_warm"] = round(run["first_search_s"] / run["warm_search_s"], 2)
    figures = {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}
    figures["goals_met"] = (
        figures["first_done_after_imports_s"] <= GOAL_AFTER_IMPORTS_S
        and figures["first_over_warm"] <= GOAL_FIRST_OVER_WARM
    )
    figures["runs"] = runs
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _run(settings: dict[str, str], photo: str, warm: int) -> dict[str, float]:
    from gradio_client import Client, handle_file

    imports = _timed([sys.executable, "-c", IMPORTS])
    model_imports = _timed([sys.executable, "-c", MODEL_IMPORTS])
    app = start_app(settings, poll_s=0.02)
    try:
        client = Client(app.url, verbose=False)
        begin = time.perf_counter()
        client.predict(image=handle_file(photo), api_name="/search")
        first_done = time.perf_counter()
        warm_times = []
        for _ in range(warm):
            start = time.perf_counter()
            client.predict(image=handle_file(photo), api_name="/search")
            warm_times.append(time.perf_counter() - start)
    finally:
        app.stop()
    return {
        "imports_s": round(imports, 2),
        "model_imports_s": round(model_imports, 2),
        "page_answers_s": round(app.ready - app.started, 2),
        "first_done_s": round(first_done - app.started, 2),
        "first_search_s": round(first_done - begin, 2),
        "warm_search_s": round(statistics.median(warm_times), 2),
    }


def _timed(command: list[str]) -> float:
    begin = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - begin


if __name__ == "__main__":
    raise SystemExit(main())
