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
    trim = _libc("malloc_trim")
    if trim:
        trim(0)


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MAPPED_FROM = 4 << 20


def map_large_blocks(size: int = MAPPED_FROM) -> bool:
    """Give every block of `size` bytes or more its own mapping, returned to the system when freed.

    glibc starts at 128 KiB but raises that threshold to the largest such block freed so far (up to
    32 MiB), after which a batch's photos, crops and activations are carved from the heap instead, where
    they fragment it and stay resident until trimmed: batches of 8 photos peaked anywhere between 1.7 and
    3.0 GiB, and higher as batches grew under a busy neighbour; with the threshold fixed at 1.7 GiB. At
    1 MiB a search took ~55 ms longer (mapping and faulting in its activations anew); at 4 MiB no longer
    than noise. Whether it was set (not without glibc's `mallopt`)."""
    mallopt = _libc("mallopt")
    return bool(mallopt and mallopt(_M_MMAP_THRESHOLD, size))


@cache
def _libc(function: str):
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), function, None) if name else None
