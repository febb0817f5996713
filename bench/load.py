"""Serve the app and send it a crowd: how many searches are served, refused or lost, how fast.

    python -m bench.load --catalog ../shared/data/ikea-interior/products.csv --photos examples/living-room.jpg \
        --detector ../shared/assets/yolo11n-coco-int8rebuilt.pt --encoder ../shared/assets/mobilenet-v2-imagenet \
        --clients 32 --searches 10

It starts `python app.py` on a free local port over the benchmark's cached index of the catalog
(or calls the app at `--url`), then, through `gradio_client` as API users do: one client alone
searching one photo after another, then `--clients` clients at once, each sending `--searches`. The
photos are taken in turn (client c's i-th search is of photo c + i), so that both phases search the
same mix: one photo is a crowd trying the page's example, many are a crowd of their own photos.
It prints what was served and refused, the latency percentiles, and each phase's throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from pathlib import Path

from bench.index_cache import cache_dir
from bench.served import start_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="+", required=True, help="the photos the clients search, in turn")
    parser.add_argument("--url", help="an app already running; otherwise one is started with the options below")
    parser.add_argument("--catalog", help="catalog CSV/JSONL (its index is the benchmarks' cached one)")
    parser.add_argument("--detector")
    parser.add_argument("--encoder")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--searches", type=int, default=10,
                        help="searches per client, one after another (alone: at least one per photo)")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if not args.url and not (args.catalog and args.detector and args.encoder):
        parser.error("give --url, or --catalog, --detector and --encoder to start the app")

    server = None if args.url else start_app({
        "LOOKALIKE_CATALOG": args.catalog, "LOOKALIKE_DETECTOR": args.detector, "LOOKALIKE_ENCODER": args.encoder,
        "LOOKALIKE_INDEX_DIR": str(cache_dir(args.catalog, args.encoder))})
    url = args.url or server.url
    try:
        _crowd(url, args.photos, clients=1, searches=1)  # warm-up
        alone = _crowd(url, args.photos, clients=1, searches=max(args.searches, len(args.photos)))
        crowd = _crowd(url, args.photos, clients=args.clients, searches=args.searches)
    finally:
        if server:
            server.stop()
    figures = {"photos": len(args.photos), "alone": alone, "crowd": crowd,
               "throughput_ratio": round(crowd["searches_per_s"] / alone["searches_per_s"], 2),
               "cpus": os.cpu_count()}
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _crowd(url: str, photos: list[str], clients: int, searches: int) -> dict:
    """`clients` API clients at once, each sending `searches` searches of its photo one after another."""
    from gradio_client import Client, handle_file

    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    lock = threading.Lock()
    connected = [Client(url, verbose=False) for _ in range(clients)]
    start_line = threading.Barrier(clients)

    def visit(c, client):
        start_line.wait()
        for i in range(searches):
            photo = photos[(c + i) % len(photos)]
            begin = time.perf_counter()
            try:
                client.predict(image=handle_file(photo), api_name="/search")
                outcome = "served"
            except Exception as exc:  # what a client meets: Gradio's errors and the network's
                outcome = "refused: queue full" if "Queue is full" in str(exc) else f"failed: {type(exc).__name__}: {exc}"
            with lock:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
                if outcome == "served":
                    latencies.append(time.perf_counter() - begin)

    threads = [threading.Thread(target=visit, args=(c, client)) for c, client in enumerate(connected)]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - begin
    served = outcomes.get("served", 0)
    quantiles = statistics.quantiles(latencies, n=20, method="inclusive") if len(latencies) > 1 else latencies * 19
    return {"clients": clients, "searches": clients * searches, "served": served,
            "refused": sum(n for o, n in outcomes.items() if o.startswith("refused")),
            "failed": {o: n for o, n in outcomes.items() if o.startswith("failed")},
            "seconds": round(seconds, 1), "searches_per_s": round(served / seconds, 3),
            "p50_s": round(statistics.median(latencies), 2) if latencies else None,
            "p95_s": round(quantiles[18], 2) if latencies else None,
            "max_s": round(max(latencies), 2) if latencies else None}


if __name__ == "__main__":
    raise SystemExit(main())
