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


def _save_tiny_clip(out: Path) -> Path:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    # Character-level BPE vocabulary (no merges): every lowercase word tokenizes without unknowns.
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["<|endoftext|>", "<|startoftext|>", *letters, *(c + "</w>" for c in letters)]
    tokenizer = CLIPTokenizer(vocab={w: i for i, w in enumerate(words)}, merges=[])
    config = CLIPConfig(
        text_config=dict(vocab_size=len(words), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=32, eos_token_id=0, pad_token_id=0,
                         bos_token_id=1),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                           num_attention_heads=4, projection_dim=16),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def _save_tiny_vit(out: Path) -> Path:
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    config = ViTConfig(image_size=32, patch_size=8, hidden_size=24, intermediate_size=37, num_hidden_layers=2,
                       num_attention_heads=4)
    ViTModel(config).save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory) -> Path:
    """A randomly initialised CLIP (16-d) saved like a Hub model: weights, tokenizer, image processor."""
    import torch

    torch.manual_seed(0)
    return _save_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="session")
def tiny_vit_path(tmp_path_factory) -> Path:
    """A randomly initialised image-only ViT (24-d, CLS pooling)."""
    import torch

    torch.manual_seed(0)
    return _save_tiny_vit(tmp_path_factory.mktemp("models") / "tiny-vit")


@pytest.fixture(scope="session")
def tiny_yolo_path(tmp_path_factory) -> Path:
    """A randomly initialised YOLO11n built from its YAML, saved as a .pt like real weights."""
    from ultralytics import YOLO

    from ultralytics.utils import ROOT, YAML

    path = tmp_path_factory.mktemp("models") / "tiny-yolo.pt"
    model = YOLO("yolo11n.yaml")
    model.model.names = YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"]  # COCO names, offline
    model.save(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_clip(tiny_clip_path):
    from search.encoder import load_encoder

    return load_encoder(str(tiny_clip_path), device="cpu")


@pytest.fixture
def color_catalog(tmp_path) -> Path:
    """A local CSV catalog of 6 plain-colour product photos with names, prices and links."""
    from PIL import Image

    colors = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220),
              "yellow": (240, 230, 20), "black": (10, 10, 10), "white": (250, 250, 250)}
    (tmp_path / "img").mkdir()
    lines = ["sku,image,title,category,price_usd,url"]
    for i, (name, rgb) in enumerate(colors.items()):
        Image.new("RGB", (40 + 10 * i, 60), rgb).save(tmp_path / "img" / f"{name}.png")
        lines.append(f"P{i},img/{name}.png,{name.title()} thing,chair,{10 * (i + 1)}.5,https://shop.example/{name}")
    (tmp_path / "catalog.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "catalog.csv"


@pytest.fixture(scope="session")
def interior_index(tmp_path_factory):
    """The whole ikea-interior catalog indexed with the real MobileNetV2 (built once per session, ~100 s)."""
    if not (MOBILENET.exists() and INTERIOR.exists()):
        pytest.skip(f"../shared is absent at {SHARED}; real-data tests skipped")
    from index.build import build_index
    from index.catalog import open_catalog
    from search.encoder import load_encoder

    out = tmp_path_factory.mktemp("interior-index")
    encoder = load_encoder(str(MOBILENET), device="cpu")
    build_index(open_catalog(INTERIOR / "products.csv"), encoder, out, progress=False)
    return out


APP_PHOTO = INTERIOR / "images" / "scenes" / "ikea-a-cosy-space-for-coffee-and-conversation__1364308407140-s4.jpg"


@pytest.fixture(scope="session")
def hk_engine(tmp_path_factory):
    """The real YOLO11n and MobileNetV2 over ~170 ikea-hk products (30 per category), built once."""
    if not (YOLO_WEIGHTS.exists() and MOBILENET.exists() and HK.exists() and APP_PHOTO.exists()):
        pytest.skip(f"../shared is absent at {SHARED}; real-data app tests skipped")
    import csv

    from index.build import build_index
    from index.catalog import open_catalog
    from index.store import CatalogIndex
    from search.detector import load_detector
    from search.encoder import load_encoder
    from search.engine import Engine

    with (HK / "products.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    subset, taken = [], {}
    for row in rows:  # the first 30 of each category
        if taken.get(row["category"], 0) < 30:
            taken[row["category"]] = taken.get(row["category"], 0) + 1
            subset.append(row)
    out = tmp_path_factory.mktemp("hk-catalog")
    with (out / "products.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in subset:  # absolute paths: the photos stay in ../shared, never copied
            writer.writerow({**row, "image_path": str(HK / row["image_path"])})
    encoder = load_encoder(str(MOBILENET), device="cpu")
    build_index(open_catalog(out / "products.csv"), encoder, out / "index", progress=False)
    detector = load_detector(str(YOLO_WEIGHTS), device="cpu")
    return Engine(detector, encoder, CatalogIndex.load(out / "index", encoder=encoder))


@pytest.fixture(scope="session")
def served_app(hk_engine):
    """The app served in-process on 127.0.0.1 over `hk_engine`; yields its URL."""
    import socket

    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_demo(hk_engine)
    _, url, _ = app.launch(demo, hk_engine, server_name="127.0.0.1", server_port=port,
                           prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()
