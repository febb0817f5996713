"""What the tests share: paths into ../shared, tiny real models built from configs, and fakes of the
pipeline's two model units (a detector that returns given boxes, an encoder that returns given vectors)."""

from __future__ import annotations

import csv
import socket
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from core.types import Detections, EncoderInfo
from search.boxes import mirror_boxes

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ASSETS = SHARED / "assets"
INTERIOR = SHARED / "data" / "ikea-interior"
HK = SHARED / "data" / "ikea-hk"
REAL_PHOTOS = SHARED / "data" / "ikea-real-photos"
YOLO_WEIGHTS = ASSETS / "yolo11n-coco-int8rebuilt.pt"
MOBILENET = ASSETS / "mobilenet-v2-imagenet"
APP_PHOTO = INTERIOR / "images" / "scenes" / "ikea-a-cosy-space-for-coffee-and-conversation__1364308407140-s4.jpg"

SHARED_MISSING = not (YOLO_WEIGHTS.exists() and MOBILENET.exists() and INTERIOR.exists() and HK.exists()
                      and REAL_PHOTOS.exists())
SHARED_REASON = f"../shared (real weights and images) is absent at {SHARED}; real-data tests skipped"
needs_shared = pytest.mark.skipif(SHARED_MISSING, reason=SHARED_REASON)


def save_tiny_clip(out: Path) -> Path:
    """A randomly initialised CLIP (16-d) saved like a Hub model: weights, image processor and a
    tokenizer whose vocabulary is the letters (one token per letter, no merges)."""
    import json
    import string

    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    config = CLIPConfig(
        text_config=dict(vocab_size=64, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=32, eos_token_id=0, pad_token_id=0,
                         bos_token_id=1),
        vision_config=dict(image_size=32, patch_size=8, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                           num_attention_heads=4, projection_dim=16),
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

    config = ViTConfig(image_size=32, patch_size=8, hidden_size=24, intermediate_size=37, num_hidden_layers=2,
                       num_attention_heads=4)
    ViTModel(config).save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def ensure(settings, **options):
    """`index.ensure.ensure_index` as `load_engine` calls it, from a whole `Settings`."""
    from index.ensure import ensure_index

    return ensure_index(settings.catalog, settings.models, **options)


def write_csv(path: Path, rows: Sequence[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


# Colour scenes: each object is a flat rectangle of one colour, so the fakes below can tell them apart.

GREY = (128, 128, 128)


def paint(size: tuple[int, int], objects: Sequence[tuple[Sequence[float], tuple[int, int, int]]],
          background=GREY) -> Image.Image:
    """A photo of `size` with each (box xyxy, colour) of `objects` painted on `background`."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for box, colour in objects:
        draw.rectangle([box[0], box[1], box[2] - 1, box[3] - 1], fill=colour)
    return image


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

    return torch.stack([torch.randn(512, generator=torch.Generator().manual_seed(zlib.crc32(w.encode())))
                        for w in words])[None]


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

    names = {0: "bed", 1: "chair", 2: "couch", 3: "dining table", 4: "person"}
    knows_catalog_kinds = False  # a general detector: the kind rules say which of its classes the shop sells
    iou = 0.5

    def __init__(self, photo: Image.Image, objects: Sequence[tuple[Sequence[float], str, float, float | None]],
                 max_objects: int = 30):
        self.max_objects = max_objects
        self.photo = photo.tobytes()
        self.mirrored = ImageOps.mirror(photo).tobytes()
        boxes = np.array([o[0] for o in objects], dtype=np.float64).reshape(-1, 4)
        labels = tuple(o[1] for o in objects)
        self.seen = Detections(boxes, [o[2] for o in objects], labels)
        self.seen_mirrored = Detections(mirror_boxes(boxes, photo.width),
                                        [o[2] if o[3] is None else o[3] for o in objects], labels)
        self.calls: list[dict] = []

    def detect(self, images: Sequence[Image.Image], *, conf: float, classes) -> list[Detections]:
        self.calls.append({"conf": conf, "classes": classes, "images": len(images)})
        return [self._detect(image, conf, classes) for image in images]

    def _detect(self, image: Image.Image, conf: float, classes) -> Detections:
        found = {self.photo: self.seen, self.mirrored: self.seen_mirrored}[image.tobytes()]
        keep = [score >= conf and (classes is None or label in classes)
                for score, label in zip(found.scores, found.labels)]
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
    _, url, _ = app.launch(demo, engine, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                           quiet=True)
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
        and close(p.score, q.score) and all(close(m.score, n.score) for m, n in zip(p.products, q.products))
        for p, q in zip(a.objects, b.objects))
