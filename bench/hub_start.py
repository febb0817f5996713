"""A first start against the local Hub at the real mirror's size: requests, bytes and time to a searchable index.

    python -m bench.hub_start --encoder ../shared/assets/mobilenet-v2-imagenet --delay-ms 50

The default catalog's settings (cap 2,000), the Hub `bench.hub` serving ABO generated at its mirror's size
(`bench.hub_data.FULL`) with `--delay-ms` added to every request. Three starts, one after the other, each
into the same index directory (standing for /data): the first (reading and embedding, its phases timed);
a restart (the index found); and a start stopped at half its rows then started again (the second run takes
the staged batches over). Each prints requests, bytes read and seconds, as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.hub import REPO, Faults, LocalHub, point_libraries_at
from bench.hub_data import FULL, mirror_folder
from core.settings import Settings
from index.builder.ensure import ensure_index
from models.runtime import set_threads


class Stopped(Exception):
    """The start stopped half way, as a restart stops it."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub_start", description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--limit", type=int, default=2000)
    args = parser.parse_args(argv)
    set_threads(0)
    folder = mirror_folder(FULL)
    work = Path(tempfile.mkdtemp(prefix="hub-start-"))
    with LocalHub({REPO: folder}, Faults(delay_s=args.delay_ms / 1000)) as hub:
        point_libraries_at(hub.endpoint)
        settings = Settings.of(encoder=args.encoder, index_dir=str(work / "index"), catalog_limit=args.limit)
        for name in ("first start", "restart"):
            _start(name, hub, settings, work, args.delay_ms)
        halted = Settings.of(encoder=args.encoder, index_dir=str(work / "halted"), catalog_limit=args.limit)
        _start("stopped at 50%", hub, halted, work, args.delay_ms, stop_at=args.limit // 2)
        _start("started again", hub, halted, work, args.delay_ms)
    return 0


def _start(name: str, hub: LocalHub, settings: Settings, work: Path, delay_ms: float, stop_at: int = 0) -> None:
    import datasets.config
    import huggingface_hub.constants

    # A fresh process's caches: each start reads the catalog from the Hub again, as a restarted Space does.
    huggingface_hub.constants.HF_HUB_CACHE = tempfile.mkdtemp(dir=work)
    datasets.config.HF_DATASETS_CACHE = Path(tempfile.mkdtemp(dir=work))
    hub.reset()
    marks: dict[str, float] = {}
    start = time.perf_counter()

    def told(done: int, total: int) -> None:
        marks.setdefault("catalog read", time.perf_counter() - start)
        if stop_at and done >= stop_at:
            raise Stopped

    try:
        index, _ = ensure_index(settings.catalog, settings.models, build=True, progress=False, on_progress=told)
        products = len(index)
    except Stopped:
        products = 0
    stats = hub.stats()
    figures = {"start": name, "delay_ms": delay_ms, "seconds": round(time.perf_counter() - start, 1)}
    figures |= {k: round(v, 1) for k, v in marks.items()}
    figures |= {"products": products, "requests": stats["requests"], "MB read": round(stats["bytes"] / 1e6, 1)}
    figures["by kind"] = {k: v for k, v in stats.items() if k not in ("requests", "bytes")}
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
