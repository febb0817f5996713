"""Process-wide settings that must be right before the heavy libraries do any work."""

from __future__ import annotations

import os

# ultralytics: no network probes or analytics, never pip-install at run time. Weight downloads
# for a named model (e.g. "yolo11n.pt") still work where the network allows.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")


def set_threads(count: int | None = None) -> None:
    """Use every core for torch and faiss: importing ultralytics pins OMP_NUM_THREADS to 1."""
    import faiss
    import torch

    count = count or int(os.environ.get("LOOKALIKE_THREADS", 0)) or os.cpu_count() or 1
    torch.set_num_threads(count)
    faiss.omp_set_num_threads(count)


def pick_device(device: str | None = None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")
