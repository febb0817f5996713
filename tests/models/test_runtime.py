"""Thread counts come from the settings; 0 means every core; torch and faiss share one OpenMP runtime."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import faiss
import pytest
import torch

from models.encoder import load_encoder
from models.runtime import _libc, cpu_has_bf16, pick_device, set_threads, trim_memory
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
    # faiss first, each library runs its own OpenMP threads, which contend (index.vectors.faiss).
    check = "import sys, search.engine; m = list(sys.modules); print(m.index('torch') < m.index('faiss'))"
    out = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def _resident_mib() -> float:
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists() or not _libc("malloc_trim"), reason="glibc on Linux only")
def test_trim_memory_hands_freed_heap_pages_back():
    blocks = [bytearray(20_000) for _ in range(8_000)]  # 160 MB of the heap, each block touched
    last = blocks[-1]  # held: the heap's top cannot shrink past it, so free() alone gives nothing back
    del blocks
    before = _resident_mib()
    trim_memory()
    assert before - _resident_mib() > 100
    del last


# A fresh interpreter each: the threshold is the process's. A freed 16 MiB block raises glibc's own threshold
# past 8 MiB, so that a block of 8 MiB is then carved from the heap and stays resident when freed; mapped
# apart, it is returned.
LARGE_BLOCK = """
from pathlib import Path
from models.runtime import map_large_blocks

def resident_mib():
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024

assert map_large_blocks() if MAPPED else True
first = bytearray(16 << 20)
del first
block = bytearray(8 << 20)
held = resident_mib()
del block
print(held - resident_mib())
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists() or not _libc("mallopt"), reason="glibc on Linux only")
@pytest.mark.parametrize("mapped, returned", [(False, False), (True, True)])
def test_large_blocks_mapped_apart_are_returned_when_freed(mapped, returned):
    script = f"MAPPED = {mapped}\n{LARGE_BLOCK}"
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert (float(out) > 7) is returned


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu sse avx512f avx512_bf16 avx512_vnni", True),
        ("fpu sse amx_bf16 amx_tile", True),
        ("fpu sse avx2 avx512f", False),
    ],
)
def test_cpu_has_bf16_reads_the_cpu_flags(tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert cpu_has_bf16(str(cpuinfo)) is expected


def test_cpu_has_bf16_is_unknown_where_the_flags_cannot_be_read(tmp_path):
    assert cpu_has_bf16(str(tmp_path / "absent")) is None


def test_bfloat16_on_a_cpu_without_it_is_warned_of(tiny_clip_path, monkeypatch, caplog):
    import models.encoder

    monkeypatch.setattr(models.encoder, "cpu_has_bf16", lambda: False)
    with caplog.at_level(logging.WARNING, logger="models.encoder"):
        load_encoder(str(tiny_clip_path), device="cpu", precision="bfloat16")
        load_encoder(str(tiny_clip_path), device="cpu")
    assert len([r for r in caplog.records if "bfloat16 instructions" in r.getMessage()]) == 1  # float32's: none
