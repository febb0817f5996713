"""Thread counts come from the settings; 0 means every core; torch and faiss share one OpenMP runtime."""

import os
import subprocess
import sys
from pathlib import Path

import faiss
import pytest
import torch

from models.runtime import _malloc_trim, pick_device, set_threads, trim_memory
from support import ROOT


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    set_threads(before)


@pytest.mark.parametrize("count, expected", [(1, 1), (3, 3), (0, os.cpu_count())])
def test_set_threads_sets_torch_and_faiss(restore_threads, count, expected):
    set_threads(count)
    assert torch.get_num_threads() == expected and faiss.omp_get_max_threads() == expected


def test_pick_device():
    assert pick_device("cpu") == "cpu"
    assert pick_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.slow  # a fresh interpreter
def test_torch_is_loaded_before_faiss_so_that_faiss_runs_on_its_openmp_runtime():
    # faiss first, each library runs its own OpenMP threads, which contend (index.vectors).
    check = "import sys, search.engine; m = list(sys.modules); print(m.index('torch') < m.index('faiss'))"
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"



def _resident_mib() -> float:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists() or not _malloc_trim(), reason="glibc on Linux only")
def test_trim_memory_hands_freed_heap_pages_back():
    blocks = [bytearray(20_000) for _ in range(8_000)]  # 160 MB of the heap, each block touched
    last = blocks[-1]  # held: the heap's top cannot shrink past it, so free() alone gives nothing back
    del blocks
    before = _resident_mib()
    trim_memory()
    assert before - _resident_mib() > 100
    del last
