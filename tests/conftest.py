"""Offline, quiet test environment, and tiny models built from configs (no downloads)."""

import os
import tempfile
from pathlib import Path

# Before any library import: nothing in the tests may reach the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_AUTOINSTALL"] = "False"
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo-config-"))

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ASSETS = SHARED / "assets"
INTERIOR = SHARED / "data" / "ikea-interior"
HK = SHARED / "data" / "ikea-hk"
YOLO_WEIGHTS = ASSETS / "yolo11n-coco-int8rebuilt.pt"
MOBILENET = ASSETS / "mobilenet-v2-imagenet"

needs_shared = pytest.mark.skipif(
    not (YOLO_WEIGHTS.exists() and MOBILENET.exists() and INTERIOR.exists()),
    reason=f"../shared (real weights and images) is absent at {SHARED}; real-data tests skipped",
)
