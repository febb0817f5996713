"""What the tests share: paths into ../shared, tiny real models built from configs, and fakes of the
pipeline's two model units (a detector that returns given boxes, an encoder that returns given vectors)."""

from __future__ import annotations

import csv
import socket
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from core.boxes import mirror_boxes
from core.types import Detections, EncoderInfo

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ASSETS = SHARED / "assets"
INTERIOR = SHARED / "data" / "ikea-interior"
HK = SHARED / "data" / "ikea-hk"
REAL_PHOTOS = SHARED / "data" / "ikea-real-photos"
YOLO_WEIGHTS = ASSETS / "yolo11n-coco-int8rebuilt.pt"
MOBILENET = ASSETS / "mobilenet-v2-imagenet"
APP_PHOTO = INTERIOR / "images" / "scenes" / "ikea-a-cosy-space-for-coffee-and-conversation__1364308407140-s4.jpg"

SHARED_MISSING = not (
    YOLO_WEIGHTS.exists() and MOBILENET.exists() and INTERIOR.exists() and HK.exists() and REAL_PHOTOS.exists()
)
SHARED_REASON = f"../shared (real weights and images) is absent at {SHARED}; real-data tests skipped"
needs_shared = pytest.mark.skipif(SHARED_MISSING, reason=SHARED_REASON)


def save_tiny_clip(out: Path) -> Path:
    """A randomly initialised CLIP (16-d) saved like a Hub model: weights, image processor and a
    tokenizer whose vocabulary is the letters (one token per letter, no merges)."""
    import json
    import string

    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    config = CLIPConfig(
        text_config={
            "vocab_size": 64,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 32,
            "eos_token_id": 0,
            "pad_token_id": 0,
            "bos_token_id": 1,
        },
        vision_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "projection_dim": 16,
        },
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(out)
    vocab = ["<|endoftext|>", "<|startoftext|>", *string.ascii_lowercase, *(c + "</w>" for c in string.ascii_lowercase)]
    (out / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
    (out / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(out / "vocab.json"), str(out / "merges.txt"), model_max_length=32).save_pretrained(out)
    return out


def save_tiny_vit(out: Path) -> Path:
    """A randomly initialised image-only ViT (24-d, CLS pooling)."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    config = ViTConfig(
        image_size=32, patch_size=8, hidden_size=24, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4
    )
    ViTModel(config).save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def save_tiny_resnet(out: Path) -> Path:
    """A randomly initialised convolutional net (16-d, its pooler), as MobileNetV2 is one."""
    from transformers import ResNetConfig, ResNetModel, ViTImageProcessor

    ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1])).save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def save_tiny_mobilenet(out: Path) -> Path:
    """A randomly initialised MobileNetV2 (a narrow one, at 32 px), the real encoder's architecture. Its
    convolutions drawn as He et al. scale them: transformers' std of 0.02 leaves nothing by the last block."""
    import torch
    from transformers import MobileNetV2Config, MobileNetV2Model, ViTImageProcessor

    torch.manual_seed(0)
    model = MobileNetV2Model(MobileNetV2Config(depth_multiplier=0.35, image_size=32))
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    model.save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def ensure(settings, **options):
    """`index.builder.ensure.ensure_index` as `load_engine` calls it, from a whole `Settings`."""
    from index.builder.ensure import ensure_index

    return ensure_index(settings.catalog, settings.models, **options)


def ranked_as_the_engine_ranks(index, scores: Sequence[float], rows: Sequence[int], hub_weight: float) -> bool:
    """Whether a product list (its similarities `scores`, of the photos `rows` of `index`) is in the engine's order
    where no words, popularity or kinds lift it: each similarity less `hub_weight` times its photo's hubness
    (index.builder.hubbed), which the index has once a build measured it."""
    hubness = index.hubness if index.hubness is not None else np.zeros(len(index), np.float32)
    keys = [score - hub_weight * float(hubness[row]) for score, row in zip(scores, rows)]
    return all(a >= b - 1e-5 for a, b in pairwise(keys))


def write_csv(path: Path, rows: Sequence[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# Colour scenes: each object is a flat rectangle of one colour, so the fakes below can tell them apart.

GREY = (128, 128, 128)


def paint(
    size: tuple[int, int], objects: Sequence[tuple[Sequence[float], tuple[int, int, int]]], background=GREY
) -> Image.Image:
    """A photo of `size` with each (box xyxy, colour) of `objects` painted on `background`."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for box, colour in objects:
        draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=colour)
    return image


# A five-product shop, each product a colour on white (`colour_catalog`): two chairs, a sofa, a rug, a lamp.
FIVE_PRODUCTS = [
    ("P0", "Chair", (255, 0, 0)),
    ("P1", "Sofa", (0, 0, 255)),
    ("P2", "Rug", (255, 255, 0)),
    ("P3", "Lamp", (0, 160, 0)),
    ("P4", "Chair", (120, 0, 160)),
]


def colour_catalog(folder: Path, products: Sequence[tuple[str, str, tuple[int, int, int]]]) -> Path:
    """A CSV catalog whose product (id, category, colour) photos are the colour centred on white."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for product_id, category, colour in products:
        photo = paint((40, 40), [((10, 10, 30, 30), colour)], background=(255, 255, 255))
        photo.save(folder / "img" / f"{product_id}.png")
        rows.append({"id": product_id, "image": f"img/{product_id}.png", "category": category})
    return write_csv(folder / "catalog.csv", rows)


def embed_words(words: list[str]):
    """Stands in for YOLOE's text model (MobileCLIP, fetched from the Hub): each word a fixed random direction."""
    import torch

    return torch.stack(
        [torch.randn(512, generator=torch.Generator().manual_seed(zlib.crc32(w.encode()))) for w in words]
    )[None]


def open_vocabulary_yolo(settings):
    """`load_detector(settings)` (ModelSettings) where the detector (or the catalog detector, pooled) is a
    random YOLOE-11n built from its YAML (`yoloe-11n.yaml`), whose head scores every class high
    everywhere: it always detects. Telling it kinds needs the `yoloe_text` fixture."""
    import torch

    from models.detector import load_detector

    detector = load_detector(settings)
    heads = detector.detectors[-1] if hasattr(detector, "detectors") else detector
    for contrast in heads.model.model.model[-1].cv4:
        torch.nn.init.constant_(contrast.bias, 10.0)
    return detector


class FakeEncoder:
    """Embeds each image as the vector given for the colour of its centre pixel.

    Query crops and catalog photos are centred on their object, so a crop's vector is its object's.
    """

    name = "fake-centre-colour"
    device = "cpu"
    reads_text = False  # an image-only encoder: words are matched against the catalog's text alone

    def __init__(self, vectors: dict[tuple[int, int, int], Sequence[float]]):
        array = np.asarray(list(vectors.values()), dtype=np.float32)
        array /= np.linalg.norm(array, axis=1, keepdims=True)
        self.vectors = dict(zip(vectors, array))
        self.dim = array.shape[1]
        self.embedded: list[Image.Image] = []  # every image it was given, in order

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed_prepared(self.prepare(images))

    def prepare(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        return list(images)

    def embed_prepared(self, images: list[Image.Image]) -> np.ndarray:
        self.embedded += images
        return np.stack([self.vectors[image.getpixel((image.width // 2, image.height // 2))] for image in images])

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError("an image-only encoder embeds no words")

    def probe(self) -> np.ndarray:
        return np.eye(self.dim, dtype=np.float32)[0]

    def describe(self) -> EncoderInfo:
        return EncoderInfo(self.name, "fake", "centre-colour", self.dim)


class FakeDetector:
    """Finds the given objects in the given photo, as a detector would: in the photo itself, or mirrored.

    `objects`: (box xyxy in `photo`, label, score, score in the mirrored photo or None for the same).
    Detections below `conf` or of classes not asked for are left out, like ultralytics does.
    """

    names: ClassVar[dict[int, str]] = {0: "bed", 1: "chair", 2: "couch", 3: "dining table", 4: "person"}
    knows_catalog_kinds = False  # a general detector: the kind rules say which of its classes the shop sells
    iou = 0.5

    def __init__(
        self,
        photo: Image.Image,
        objects: Sequence[tuple[Sequence[float], str, float, float | None]],
        max_objects: int = 30,
    ):
        self.max_objects = max_objects
        self.photo = photo.tobytes()
        self.mirrored = ImageOps.mirror(photo).tobytes()
        boxes = np.array([o[0] for o in objects], dtype=np.float64).reshape(-1, 4)
        labels = tuple(o[1] for o in objects)
        self.seen = Detections(boxes, [o[2] for o in objects], labels)
        self.seen_mirrored = Detections(
            mirror_boxes(boxes, photo.width), [o[2] if o[3] is None else o[3] for o in objects], labels
        )
        self.calls: list[dict] = []

    def detect(self, images: Sequence[Image.Image], *, conf: float, classes) -> list[Detections]:
        self.calls.append({"conf": conf, "classes": classes, "images": len(images)})
        return [self._detect(image, conf, classes) for image in images]

    def _detect(self, image: Image.Image, conf: float, classes) -> Detections:
        found = {self.photo: self.seen, self.mirrored: self.seen_mirrored}[image.tobytes()]
        keep = [
            score >= conf and (classes is None or label in classes) for score, label in zip(found.scores, found.labels)
        ]
        found = found[keep]
        return found[np.argsort(-found.scores, kind="stable")]


@contextmanager
def served(engine) -> Iterator[str]:
    """The app served in-process on a free 127.0.0.1 port over `engine`, as `app.launch` serves it; its URL."""
    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_demo(engine)
    _, url, _ = app.launch(
        demo, engine, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True
    )
    try:
        yield url
    finally:
        demo.close()


def same_result(a, b, tolerance: float = 1e-4) -> bool:
    """Whether two search results hold the same objects, boxes and products, their scores equal within
    `tolerance`: a batch of several photos computes its floats its own way."""

    def close(x, y):
        return (x is None and y is None) or (x is not None and y is not None and abs(x - y) <= tolerance)

    return len(a.objects) == len(b.objects) and all(
        (p.label, p.box, [m.product.id for m in p.products]) == (q.label, q.box, [m.product.id for m in q.products])
        and close(p.score, q.score)
        and all(close(m.score, n.score) for m, n in zip(p.products, q.products))
        for p, q in zip(a.objects, b.objects)
    )


# The default catalog's listings as the Hub's ABO mirror documents them (FIELD-NOTES: Amazon Berkeley
# Objects): (item_id, item_name_en, brand_en, product_type, color_en, country, main_image_id).
ABO_LISTINGS = [
    ("B07B4FZ5QL", 'Rivet Revolve Modern Upholstered Sofa, 80"W, Grey', "Rivet", "SOFA", "Grey", "US", "81iZlv3bjpL"),
    ("B075X4QMX3", "Stone & Beam Dining Chair, Walnut", "Stone & Beam", "CHAIR", "Walnut", "US", "71b9SFj9tqL"),
    ("B07HSLQ8JZ", "Amazon Basics Phone Case", "AmazonBasics", "CELLULAR_PHONE_CASE", "Black", "US", "61Y3xF9DqzL"),
    ("B07DBJ2BQS", "Ravenna Home Round Side Table", "Ravenna Home", "TABLE", "White", "GB", "51kBv2qKc8L"),
    ("B0794YXHDB", "Amazon Essentials Men's Running Shoe", "Amazon Essentials", "SHOES", "Blue", "US", "71Qd4Z3XgrL"),
    ("B07JGH9R8C", "Stone & Beam Ceramic Table Lamp", "Stone & Beam", "LAMP", "White", "US", "61eW2zFjvwL"),
    ("B07NL0BANK", "Rivet bank, 3-zits, grijs", "Rivet", "SOFA", "Grijs", "NL", "71nLsofaaaL"),
    ("B07MXSILLA", "Silla de comedor, nogal", "Movian", "CHAIR", "Nogal", "MX", "71mXchairrL"),
    ("B07HOMEMIR", "Rivet Round Wall Mirror", "Rivet", "HOME_MIRROR", "Gold", "ZZ", "61mirrorabL"),
    ("B07NOIMAGE", "Stone & Beam Armchair", "Stone & Beam", "CHAIR", "Blue", "US", "00missing0L"),
]


def abo_standin(folder: Path, images_per_group: int = 2) -> Path:
    """A folder laid out as the Hub mirror of Amazon Berkeley Objects is documented: a `listings`
    configuration (no image; parquet shards) and an `images_small` one (256 px images by `image_id`,
    with `path`, `height`, `width`), named in the card's `configs`. Listing i's main image is painted
    in colour `abo_colour(i)`; one listing's image is missing."""
    import json

    import datasets

    from bench.hub_data import CARD, image_features

    (folder / "listings").mkdir(parents=True)
    (folder / "images_small").mkdir()
    (folder / "README.md").write_text(CARD)
    rows = [
        dict(
            zip(
                ("item_id", "item_name_en", "brand_en", "product_type", "color_en", "country", "main_image_id"), listing
            ),
            other_image_ids=[f"{listing[6][:-1]}X"],
            node_paths=[{"node_id": 1, "path": "/Home"}],
            raw_listing_json=json.dumps({"item_id": listing[0], "item_keywords": ["home"]}),
        )
        for listing in ABO_LISTINGS
    ]
    half = len(rows) // 2
    for shard, part in enumerate((rows[:half], rows[half:])):
        datasets.Dataset.from_list(part).to_parquet(folder / "listings" / f"listings-{shard:05d}-of-00002.parquet")
    images = [
        {
            "image_id": listing[6],
            "path": f"{i:02x}/{i:08x}.jpg",
            "height": 256,
            "width": 256,
            "image": {"bytes": _jpeg(abo_colour(i)), "path": None},
        }
        for i, listing in enumerate(ABO_LISTINGS)
        if "missing" not in listing[6]
    ]
    images.reverse()  # an image table is not in the listings' order
    for shard, part in enumerate((images[:4], images[4:])):
        datasets.Dataset.from_list(part, features=image_features()).to_parquet(
            folder / "images_small" / f"images_small-{shard:05d}-of-00002.parquet", batch_size=images_per_group
        )
    return folder


def abo_colour(i: int) -> tuple[int, int, int]:
    return (25 * i, 200 - 15 * i, (70 * i) % 256)


def _jpeg(colour) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


@contextmanager
def http_folder(folder: Path) -> Iterator[str]:
    """`folder` served over HTTP on 127.0.0.1 for the duration: its base URL (no trailing slash)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def local_hub(monkeypatch, folder: Path, faults=None) -> Iterator:
    """`folder` served as the default catalog's repository by `bench.hub.LocalHub` on 127.0.0.1, huggingface_hub
    and datasets pointed at it and online for the test alone (their caches in a fresh folder); the hub."""
    import datasets.config
    import huggingface_hub.constants

    from bench.hub import REPO, LocalHub, point_libraries_at
    from core.defaults import DEFAULT_CATALOG

    assert REPO == DEFAULT_CATALOG
    caches = folder.parent / f"{folder.name}-caches"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(caches / "hub"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", caches / "datasets")
    monkeypatch.setenv("XDG_CACHE_HOME", str(caches / "xdg"))
    with LocalHub({REPO: folder}, faults) as hub:
        point_libraries_at(hub.endpoint, monkeypatch.setattr)
        yield hub
