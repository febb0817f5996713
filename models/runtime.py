"""Process-wide choices the models need: where they run, how many threads, ultralytics' environment."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import cache
from pathlib import Path


def set_threads(count: int) -> None:
    """Run torch and faiss on `count` threads (0: every core).

    Called after the models load: importing ultralytics pins OMP_NUM_THREADS to 1, and its first
    predict resets torch to cpu_count - 1 threads.
    """
    import torch  # before faiss (index.vectors.faiss says why)

    # isort: split
    import faiss

    count = count or os.cpu_count() or 1
    torch.set_num_threads(count)
    faiss.omp_set_num_threads(count)


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU has bfloat16 instructions (avx512_bf16 or AMX); None where that cannot be read."""
    try:
        flags = Path(cpuinfo).read_text().split()
    except OSError:
        return None
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def quiet_ultralytics() -> None:
    """No network probes or analytics, never a pip install at run time. ultralytics reads these when
    it is first imported, so this runs before that; weight downloads for a model name still work."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")


def trim_memory() -> None:
    """Hand the heap's freed pages back to the system (glibc's `malloc_trim`), so that a batch's
    activations, once freed, do not stay resident as the allocator's high-water mark. Nothing where
    the C library has no such call."""
    trim = _malloc_trim()
    if trim:
        trim(0)


@cache
def _malloc_trim():
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
