"""Serve the app and send it a crowd: how many searches are served, refused or lost, how fast.

    python -m bench.load --catalog ../shared/data/ikea-interior/products.csv --photos examples/living-room.jpg \
        --detector ../shared/assets/yolo11n-coco-int8rebuilt.pt --encoder ../shared/assets/mobilenet-v2-imagenet \
        --clients 32 --searches 10

It starts `python app.py` on a free local port over the benchmark's cached index of the catalog
(or calls the app at `--url`), then, through `gradio_client` as API users do: one client alone
searching one photo after another, then `--clients` clients at once, each sending `--searches`. The
photos are taken in turn (client c's i-th search is of photo c + i), so that both phases search the
same mix: one photo is a crowd trying the page's example, many are a crowd of their own photos.
It prints what was served, refused (queue full), failed (the app's errors) and lost (the connection
closed or broke before the answer came), the latency percentiles, and each phase's throughput.

With `--soak N` it measures memory instead: after `--warmup` searches, `--clients` clients send N
searches in all over the photos while the server's resident memory (VmRSS) is sampled every second;
it reports where memory stood after the warm-up, at the end and at its peak, and its slope over the
second half (MiB per 100 searches: flat is about 0). An app at `--url` needs its `--pid`. `--burn N` keeps
N cores busy beside it while it runs (a process spinning on each), as a Space's neighbours on shared CPUs do.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from bench.index_cache import cache_dir
from bench.served import start_app

# What a client meets when the connection, not the app, fails it: httpx's and httpcore's transport errors
# (by their base classes' names, so that the check imports neither), the builtin ones, and their words
# where something re-raised them; gradio_client's CancelledError is its event stream closing early.
CONNECTION_ERRORS = {
    "TransportError",
    "NetworkError",
    "ProtocolError",
    "TimeoutException",
    "ConnectionError",
    "CancelledError",
}
CONNECTION_WORDS = (
    "peer closed connection",
    "server disconnected",
    "connection refused",
    "connection reset",
    "broken pipe",
)


def outcome(exc: BaseException | None) -> str:
    """How a search ended, as the figures count it: "served", "refused: queue full" (the queue's
    answer), "lost: <error>" (the connection closed or broke before the answer) or "failed: <error>"
    (the app answered with an error)."""
    if exc is None:
        return "served"
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if "Queue is full" in str(exc):
        return "refused: queue full"
    if {cls.__name__ for cls in type(exc).__mro__} & CONNECTION_ERRORS or any(
        words in str(exc).lower() for words in CONNECTION_WORDS
    ):
        return f"lost: {text}"
    return f"failed: {text}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", nargs="+", required=True, help="the photos the clients search, in turn")
    parser.add_argument("--url", help="an app already running; otherwise one is started with the options below")
    parser.add_argument("--pid", type=int, help="with --url and --soak: the app's process, whose memory is sampled")
    parser.add_argument("--catalog", help="catalog CSV/JSONL (its index is the benchmarks' cached one)")
    parser.add_argument("--detector")
    parser.add_argument("--encoder")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--searches",
        type=int,
        default=10,
        help="searches per client, one after another (alone: at least one per photo)",
    )
    parser.add_argument("--soak", type=int, metavar="N", help="measure memory over N searches by --clients clients")
    parser.add_argument("--warmup", type=int, default=20, help="searches before the soak's memory baseline")
    parser.add_argument("--burn", type=int, default=0, metavar="N", help="keep N cores busy beside the app meanwhile")
    parser.add_argument("--out", help="write the figures as JSON here")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.url and not (args.catalog and args.detector and args.encoder):
        parser.error("give --url, or --catalog, --detector and --encoder to start the app")
    if args.soak and args.url and not args.pid:
        parser.error("--soak with --url needs the app's --pid")

    server = (
        None
        if args.url
        else start_app(
            {
                "LOOKALIKE_CATALOG": args.catalog,
                "LOOKALIKE_DETECTOR": args.detector,
                "LOOKALIKE_ENCODER": args.encoder,
                "LOOKALIKE_INDEX_DIR": str(cache_dir(args.catalog, args.encoder)),
            }
        )
    )
    url = args.url or server.url
    try:
        with burning(args.burn):
            figures = _measure(args, url, args.pid or (server.process.pid if server else 0))
    finally:
        if server:
            server.stop()
    figures["cpus"], figures["burning"] = os.cpu_count(), args.burn
    print(json.dumps(figures, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _measure(args, url: str, pid: int) -> dict:
    """The soak's figures, or one client's and the crowd's."""
    if args.soak:
        return {"photos": len(args.photos), "soak": _soak(url, pid, args.photos, args.clients, args.soak, args.warmup)}
    _crowd(url, args.photos, clients=1, searches=1)  # warm-up
    alone = _crowd(url, args.photos, clients=1, searches=max(args.searches, len(args.photos)))
    crowd = _crowd(url, args.photos, clients=args.clients, searches=args.searches)
    return {
        "photos": len(args.photos),
        "alone": alone,
        "crowd": crowd,
        "throughput_ratio": round(crowd["searches_per_s"] / alone["searches_per_s"], 2)
        if alone["searches_per_s"]
        else None,
    }


@contextmanager
def burning(cores: int):
    """`cores` processes that each keep a core busy (a neighbour on shared CPUs), stopped on leaving."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        yield burners
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()


class _Tally:
    """A crowd's outcomes and latencies as they come; `done` is read by the soak's sampler meanwhile."""

    def __init__(self):
        self.outcomes: dict[str, int] = {}
        self.latencies: list[float] = []
        self.lock = threading.Lock()

    def add(self, ended: str, seconds: float) -> None:
        with self.lock:
            self.outcomes[ended] = self.outcomes.get(ended, 0) + 1
            if ended == "served":
                self.latencies.append(seconds)

    @property
    def done(self) -> int:
        with self.lock:
            return sum(self.outcomes.values())


def _crowd(url: str, photos: list[str], clients: int, searches: int, tally: _Tally | None = None) -> dict:
    """`clients` API clients at once, each sending `searches` searches of its photo one after another."""
    from gradio_client import Client, handle_file

    tally = tally or _Tally()
    connected = [Client(url, verbose=False) for _ in range(clients)]
    start_line = threading.Barrier(clients)

    def visit(c, client):
        start_line.wait()
        for i in range(searches):
            photo = photos[(c + i) % len(photos)]
            begin, error = time.perf_counter(), None
            try:
                client.predict(image=handle_file(photo), api_name="/search")
            except Exception as exc:  # what a client meets: Gradio's errors and the network's
                error = exc
            tally.add(outcome(error), time.perf_counter() - begin)

    threads = [threading.Thread(target=visit, args=(c, client)) for c, client in enumerate(connected)]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - begin
    for client in connected:
        client.close()
    outcomes, latencies = tally.outcomes, tally.latencies
    served = outcomes.get("served", 0)
    lost = {o.removeprefix("lost: "): n for o, n in outcomes.items() if o.startswith("lost")}
    quantiles = statistics.quantiles(latencies, n=20, method="inclusive") if len(latencies) > 1 else latencies * 19
    return {
        "clients": clients,
        "searches": clients * searches,
        "served": served,
        "refused": sum(n for o, n in outcomes.items() if o.startswith("refused")),
        "failed": {o.removeprefix("failed: "): n for o, n in outcomes.items() if o.startswith("failed")},
        "lost": {"count": sum(lost.values()), "messages": lost},
        "seconds": round(seconds, 1),
        "searches_per_s": round(served / seconds, 3),
        "p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "p95_s": round(quantiles[18], 2) if latencies else None,
        "max_s": round(max(latencies), 2) if latencies else None,
    }


def _soak(url: str, pid: int, photos: list[str], clients: int, total: int, warmup: int) -> dict:
    """`warmup` searches, then `total` by `clients` clients over the photos, the server's resident memory
    sampled every second against the searches done: does it come back to where the warm-up left it?"""
    per_client = math.ceil(total / clients)
    if warmup:
        _crowd(url, photos, clients=clients, searches=math.ceil(warmup / clients))
    after_warmup = rss_mib(pid)
    tally, samples, stop = _Tally(), [(0, after_warmup)], threading.Event()

    def sample():
        while not stop.wait(1.0):
            samples.append((tally.done, rss_mib(pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        figures = _crowd(url, photos, clients=clients, searches=per_client, tally=tally)
    finally:
        stop.set()
        sampler.join()
    time.sleep(1.0)  # what stays once the last answers are sent
    samples.append((tally.done, end := rss_mib(pid)))
    second_half = [(n, mib) for n, mib in samples if n >= clients * per_client / 2]
    return {
        **figures,
        "rss_after_warmup_mib": after_warmup,
        "rss_end_mib": end,
        "rss_peak_mib": max(mib for _, mib in samples),
        "rss_hwm_mib": rss_mib(pid, "VmHWM"),
        "end_over_warmup": round(end / after_warmup, 3),
        "second_half_mib_per_100": round(100 * slope(second_half), 1),
        "rss_mib": samples,
    }


def rss_mib(pid: int, field: str = "VmRSS") -> int:
    """A process's resident memory now (VmRSS) or at its highest (VmHWM), in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024)
    raise ValueError(f"no {field} for process {pid}")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 for fewer than two distinct x)."""
    xs = [x for x, _ in points]
    if len(set(xs)) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(y for _, y in points)
    return sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)


if __name__ == "__main__":
    raise SystemExit(main())
