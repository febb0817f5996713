"""Offline, quiet test environment; tiny models built from configs (no downloads); the real pipelines."""

import os
import tempfile

# Before any library import: nothing in the tests may reach the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_AUTOINSTALL"] = "False"
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo-config-"))

import pytest

from support import (
    FIVE_PRODUCTS,
    HK,
    MOBILENET,
    SHARED_MISSING,
    SHARED_REASON,
    YOLO_WEIGHTS,
    colour_catalog,
    embed_words,
    ensure,
    save_tiny_clip,
    save_tiny_vit,
    served,
    write_csv,
)


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    return save_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="session")
def tiny_vit_path(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    return save_tiny_vit(tmp_path_factory.mktemp("models") / "tiny-vit")


@pytest.fixture(scope="session")
def tiny_yolo_path(tmp_path_factory):
    """A randomly initialised YOLO11n built from its YAML, saved as a .pt like real weights, whose
    class head is set to see a chair (COCO 56) everywhere and nothing else: it always detects."""
    import torch
    from ultralytics import YOLO
    from ultralytics.utils import ROOT, YAML

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny-yolo.pt"
    model = YOLO("yolo11n.yaml")
    model.model.names = YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"]  # COCO names, offline
    for branch in model.model.model[-1].cv3:  # the last conv of each level's class branch
        torch.nn.init.constant_(branch[-1].bias, -10.0)
        branch[-1].bias.data[56] = 2.0
    model.save(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_shop_engine(tmp_path_factory, tiny_clip_path, tiny_yolo_path):
    """The served pipeline, loaded from settings as the app loads it, with the tiny CLIP and YOLO, over a
    shop of a red chair, a blue sofa and a yellow rug (which no detector class covers)."""
    from core.settings import Settings
    from search.engine import load_engine

    folder = tmp_path_factory.mktemp("tiny-shop")
    catalog = colour_catalog(
        folder, [("P0", "Chair", (255, 0, 0)), ("P1", "Sofa", (0, 0, 255)), ("P2", "Rug", (255, 255, 0))]
    )
    settings = Settings.of(
        detector=str(tiny_yolo_path),
        encoder=str(tiny_clip_path),
        catalog=str(catalog),
        index_dir=str(folder / "idx"),
        device="cpu",
        top_k=2,
    )
    return load_engine(settings, build_index=True, progress=False)


@pytest.fixture
def yoloe_text(monkeypatch):
    """YOLOE's text model (MobileCLIP, which ultralytics fetches from the Hub) stood in for by
    `support.embed_words`; the lists of words it was asked to embed."""
    from ultralytics.nn.tasks import YOLOEModel

    asked = []
    monkeypatch.setattr(
        YOLOEModel,
        "get_text_pe",
        lambda self, words, *args, **kwargs: asked.append(list(words)) or embed_words(list(words)),
    )
    return asked


@pytest.fixture(scope="session")
def tiny_clip(tiny_clip_path):
    from models.encoder import load_encoder

    return load_encoder(str(tiny_clip_path), device="cpu")


@pytest.fixture
def color_catalog(tmp_path):
    """A local CSV catalog of 6 plain-colour product photos with names, prices and links."""
    from PIL import Image

    colors = {
        "red": (220, 30, 30),
        "green": (30, 200, 40),
        "blue": (30, 40, 220),
        "yellow": (240, 230, 20),
        "black": (10, 10, 10),
        "white": (250, 250, 250),
    }
    (tmp_path / "img").mkdir()
    lines = ["sku,image,title,category,price_usd,url"]
    for i, (name, rgb) in enumerate(colors.items()):
        Image.new("RGB", (40 + 10 * i, 60), rgb).save(tmp_path / "img" / f"{name}.png")
        lines.append(f"P{i},img/{name}.png,{name.title()} thing,chair,{10 * (i + 1)}.5,https://shop.example/{name}")
    (tmp_path / "catalog.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "catalog.csv"


@pytest.fixture(scope="session")
def hk_settings(tmp_path_factory):
    """Settings for the served pipeline over ~170 ikea-hk products (30 per category), real YOLO11n and MobileNetV2."""
    if SHARED_MISSING:
        pytest.skip(SHARED_REASON)
    import csv

    from core.settings import Settings

    with (HK / "products.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    subset, taken = [], {}
    for row in rows:  # the first 30 of each category; absolute paths: the photos stay in ../shared
        if taken.get(row["category"], 0) < 30:
            taken[row["category"]] = taken.get(row["category"], 0) + 1
            subset.append({**row, "image_path": str(HK / row["image_path"])})
    out = tmp_path_factory.mktemp("hk-catalog")
    return Settings.of(
        detector=str(YOLO_WEIGHTS),
        encoder=str(MOBILENET),
        device="cpu",
        catalog=str(write_csv(out / "products.csv", subset)),
        index_dir=str(out / "index"),
    )


@pytest.fixture(scope="session")
def hk_engine(hk_settings):
    """The pipeline the app serves, loaded the way the app loads it, over the ikea-hk subset."""
    from search.engine import load_engine

    return load_engine(hk_settings, build_index=True, progress=False)


@pytest.fixture(scope="session")
def served_app(hk_engine):
    """The app served in-process on 127.0.0.1 over `hk_engine`; yields its URL."""
    with served(hk_engine) as url:
        yield url


@pytest.fixture
def tiny_index(tmp_path, tiny_vit_path, tiny_yolo_path):
    """The settings of an index of a five-product shop, built with a tiny ViT as the app builds it."""
    from core.settings import Settings

    catalog = colour_catalog(tmp_path / "shop", FIVE_PRODUCTS)
    settings = Settings.of(
        encoder=str(tiny_vit_path),
        catalog=str(catalog),
        index_dir=str(tmp_path / "idx"),
        device="cpu",
        detector=str(tiny_yolo_path),
    )
    ensure(settings, build=True, progress=False)
    return settings
