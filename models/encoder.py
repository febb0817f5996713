"""Image embeddings from a Hugging Face `transformers` model (CLIP-family or image-only).

Every embedding is L2-normalised `float32 (N, D)`, so inner product is cosine similarity.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from PIL import Image

from core.errors import LookalikeError
from core.settings import ModelSettings
from core.types import EncoderInfo

from .exported import ExportedPass, exported_pass
from .runtime import cpu_has_bf16, pick_device

if TYPE_CHECKING:
    from transformers import BaseImageProcessor, PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

# How an image-only model's embedding is read from its output, by `model_type`: the CLS token where
# the pooler is a tanh classification head, poor for retrieval; DINOv2's pooler, its normalised CLS
# token. Other models: their pooler where they have one (a conv net's global pooling), else the mean
# of their tokens. CLIP-family models (with `get_image_features`) use their projection.
POOLING_OF_TYPE = {
    "vit": "cls",
    "deit": "cls",
    "beit": "cls",
    "data2vec-vision": "cls",
    "vit_msn": "cls",
    "vit_mae": "cls",
    "dinov2": "pooler",
    "mobilenet_v2": "pooler_and_map",
}


def _mean(output) -> torch.Tensor:
    """Mean over tokens (B, T, C) or over the spatial grid of a conv net (B, C, H, W)."""
    hidden = output.last_hidden_state
    return hidden.mean(dim=1) if hidden.ndim == 3 else hidden.mean(dim=(2, 3))


def _pooler_and_map(model, pixels) -> torch.Tensor:
    """A conv net's pooled output joined by the mean of its last block's map, each L2-normalised, so that
    each is half of the cosine. MobileNetV2's pooler reads its last block through a 1x1 convolution made
    for ImageNet's classes; the block's own map keeps more of what tells one product from another of its
    kind: joined, they find more products in rooms and real photos, on both halves (docs/quality.md)."""
    output = model(pixel_values=pixels, output_hidden_states=True)
    pooled, last = output.pooler_output.flatten(1), output.hidden_states[-1].mean(dim=(2, 3))
    return torch.cat([torch.nn.functional.normalize(pooled), torch.nn.functional.normalize(last)], dim=1)


# Images per forward pass on a CPU (`Encoder.forward_batch`). A convolutional net's activations are
# large (MobileNetV2's first layers hold 1.6 MB an image at 224 px), so batches past two spill the
# cores' caches: 11 ms an image in pairs against 29 in sixteens and 42 in 32s on these 2 cores. A
# transformer's are small beside its weights, which a batch reads once: CLIP ViT-B/32 takes 92 ms an
# image alone and 55 in batches of 24. A GPU's batches are bounded by its memory only.
CPU_BATCH_CONVOLUTIONAL = 2
CPU_BATCH_TRANSFORMER = 16
GPU_BATCH = 64
# Images `embed_images` prepares at once (rounded to whole forward passes, so the passes are the same): a
# search batch of 8 room photos has 150-250 crops, whose pixels and the processor's copies held 430 MB
# when prepared all at once.
PREPARED_AT_ONCE = 32

# Pooling -> the image embedding, from the model and its pixel values.
POOLINGS = {
    "image_features": lambda model, pixels: model.get_image_features(pixel_values=pixels).pooler_output,
    "cls": lambda model, pixels: model(pixel_values=pixels).last_hidden_state[:, 0],
    "pooler": lambda model, pixels: model(pixel_values=pixels).pooler_output.flatten(1),
    "mean": lambda model, pixels: _mean(model(pixel_values=pixels)),
    "pooler_and_map": _pooler_and_map,
}


def pooling_of(model) -> str:
    """How `model`'s image embedding is read (a key of POOLINGS)."""
    if hasattr(model, "get_image_features"):
        return "image_features"
    return POOLING_OF_TYPE.get(model.config.model_type) or ("pooler" if _has_pooler(model) else "mean")


class EncoderError(LookalikeError):
    """The encoder could not be loaded or cannot do what was asked."""


@dataclass
class Encoder:
    """A `transformers` vision model as a `core.protocols.ImageEncoder`."""

    name: str
    model: PreTrainedModel
    processor: BaseImageProcessor  # the image processor saved with the model
    device: str = "cpu"
    tokenizer: PreTrainedTokenizerBase | None = None  # a CLIP-family model's, where one was saved with it
    forward_batch: int | None = None  # images per forward pass; None: chosen by `batch_for`
    precision: str = "float32"  # or "bfloat16" (core.settings.ModelSettings.precision)
    channels_last: bool = field(init=False, default=False)
    exported: ExportedPass | None = field(default=None, repr=False)  # the image pass in ONNX Runtime, if any
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def runtime(self) -> str:
        """What runs its image pass: "onnx" (ONNX Runtime) or "torch"."""
        return "onnx" if self.exported is not None else "torch"

    @property
    def model_type(self) -> str:
        return self.model.config.model_type

    @cached_property
    def pooling(self) -> str:
        return pooling_of(self.model)

    @property
    def reads_text(self) -> bool:
        """Whether words can be embedded into the space of the images (a CLIP-family model with its tokenizer)."""
        return self.pooling == "image_features" and self.tokenizer is not None

    @torch.inference_mode()
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """`texts` embedded by the text tower into the images' space -> (N, D)."""
        if not self.reads_text or self.tokenizer is None:  # reads_text: a text tower, and its tokenizer
            raise EncoderError(f"The encoder {self.name!r} embeds images only; it cannot embed words.")
        tokens = self.tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt").to(self.device)
        # A CLIP-family model's own method: PreTrainedModel does not declare it, so mypy reads it as torch's
        # Module.__getattr__ does (a Tensor or a Module).
        text_features = cast("Callable[..., Any]", self.model.get_text_features)
        with self._lock, self._arithmetic():
            features = text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
            ).pooler_output
        return _normalise(features)

    def __post_init__(self) -> None:
        self.forward_batch = self.forward_batch or batch_for(self.model, self.device)
        # A conv net on a CPU runs channels-last, where oneDNN's convolutions are fastest: MobileNetV2
        # takes 60 ms for 6 crops against 144 (docs/speed.md), the same embeddings to 1e-5.
        self.channels_last = self.device == "cpu" and not _attends(self.model)
        if self.channels_last:
            # The same `to`, typed as torch's: transformers' is made by functools.wraps, which mypy reads as unbound.
            network: torch.nn.Module = self.model
            network.to(memory_format=torch.channels_last)
        if self.precision == "bfloat16" and self.device == "cpu" and cpu_has_bf16() is False:
            log.warning(
                "precision=bfloat16 on a CPU without bfloat16 instructions (avx512_bf16, AMX): the encoder "
                "runs slower than in float32; set LOOKALIKE_PRECISION=float32."
            )

    def _arithmetic(self):
        """The context the model runs in: bfloat16 autocast where the settings ask for it."""
        return torch.autocast(
            torch.device(self.device).type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"
        )

    @cached_property
    def dim(self) -> int:
        return int(self.embed_images([Image.new("RGB", (32, 32))]).shape[1])

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """All `images` (RGB PIL) -> (N, D), prepared `PREPARED_AT_ONCE` at a time."""
        assert self.forward_batch is not None  # set in __post_init__
        step = self.forward_batch * max(1, PREPARED_AT_ONCE // self.forward_batch)
        chunks = [images[start : start + step] for start in range(0, len(images), step)] or [images]
        return np.concatenate([self.embed_prepared(self.prepare(chunk)) for chunk in chunks])

    def prepare(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """What the model reads of `images` (RGB PIL): its processor's pixel values (N, 3, H, W). A step
        of its own, so that a build can prepare the next batch while this one runs through the model."""
        if not images:
            raise EncoderError("embed_images needs at least one image.")
        return self.processor(images=list(images), return_tensors="pt")["pixel_values"]

    @torch.inference_mode()
    def embed_prepared(self, pixels: torch.Tensor) -> np.ndarray:
        """`prepare`d pixels -> (N, D), through the model `forward_batch` images at a time."""
        with self._lock:
            if self.exported is not None:
                return _normalise(torch.cat([self.exported(chunk) for chunk in pixels.split(self.forward_batch)]))
            return _normalise(self.features(pixels))

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        """`prepare`d pixels -> (N, D) pooled features, not normalised, by the PyTorch model `forward_batch`
        images at a time; with gradients where they are enabled (`python -m train block` tunes through it)."""
        pooled, pixels = POOLINGS[self.pooling], pixels.to(self.device)
        if self.channels_last:
            pixels = pixels.contiguous(memory_format=torch.channels_last)
        with self._arithmetic():
            return torch.cat([pooled(self.model, chunk) for chunk in pixels.split(self.forward_batch)])

    def describe(self) -> EncoderInfo:
        """What an index records so that it can later refuse a different encoder."""
        return EncoderInfo(self.name, self.model_type, self.pooling, self.dim)

    def probe(self) -> np.ndarray:
        """The embedding of a fixed synthetic image: equal only for the same weights and preprocessing."""
        return self.embed_images([probe_image()])[0]


def load_encoder(name: str, device: str | None = None, precision: str = "float32", runtime: str = "auto") -> Encoder:
    """Load a CLIP-family or image-only vision model from a local folder or a Hub id, to run at `precision`
    ("float32" or "bfloat16"), its image pass by `runtime` (core.settings.ModelSettings.runtime): ONNX
    Runtime where it runs on a CPU in float32 and can be (`models.exported`), else PyTorch."""
    from transformers import AutoConfig, AutoImageProcessor, AutoModel

    try:
        config = AutoConfig.from_pretrained(name)
        processor = AutoImageProcessor.from_pretrained(name)
        model = AutoModel.from_pretrained(name, config=config)
    except (OSError, ValueError, KeyError) as exc:
        raise EncoderError(f"Could not load the encoder {name!r}: {exc}") from exc
    device = pick_device(device)
    tokenizer = _tokenizer(name) if hasattr(model, "get_text_features") else None
    encoder = Encoder(
        name=name,
        model=model.eval().to(device),
        processor=processor,
        device=device,
        tokenizer=tokenizer,
        precision=precision,
    )
    # "auto": ONNX Runtime for a convolutional net, PyTorch for a transformer: its graph ran a CLIP-B/32
    # search 3% faster only, and holds a second copy of the weights (350 MB).
    wanted = runtime == "onnx" or (runtime == "auto" and not _attends(model))
    if wanted and device == "cpu" and precision == "float32":
        encoder.exported = exported_pass(
            name, encoder.model, POOLINGS[encoder.pooling], encoder.prepare([probe_image()])
        )
    return encoder


def encoder_for(name: str, models: ModelSettings) -> Encoder:
    """`load_encoder(name)` where, at the precision and by the runtime `models` (the settings) say."""
    return load_encoder(name, device=models.device, precision=models.precision, runtime=models.runtime)


def batch_for(model, device: str) -> int:
    """How many images `model` takes per forward pass on `device` (see CPU_BATCH_CONVOLUTIONAL)."""
    if device != "cpu":
        return GPU_BATCH
    return CPU_BATCH_TRANSFORMER if _attends(model) else CPU_BATCH_CONVOLUTIONAL


def _attends(model) -> bool:
    """Whether `model`'s vision tower is a transformer (else a convolutional net)."""
    vision = getattr(model.config, "vision_config", model.config)
    return bool(getattr(vision, "num_attention_heads", None) or getattr(vision, "num_heads", None))


def _tokenizer(name: str):
    """The tokenizer saved with a CLIP-family model; None where there is none (it then searches images only)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # Without its vocabulary files, transformers still makes one of special tokens alone: every word unknown.
    return tokenizer if len(tokenizer) > len(set(tokenizer.all_special_ids)) else None


def _has_pooler(model) -> bool:
    return getattr(model, "pooler", None) is not None


def _normalise(features: torch.Tensor) -> np.ndarray:
    array = features.float().cpu().numpy().astype(np.float32, copy=False)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.ascontiguousarray(array / np.maximum(norms, 1e-12))


def probe_image() -> Image.Image:
    y, x = np.mgrid[0:64, 0:64]
    rgb = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb, "RGB")


def save_random_clip_b32(out: Path) -> Path:
    """A randomly initialised CLIP with ViT-B/32's image tower (and a token-sized text tower), saved
    with its image processor: the default encoder's cost, for timings, with no download."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    vision = {
        "image_size": 224,
        "patch_size": 32,
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "projection_dim": 512,
    }
    text = {
        "vocab_size": 64,
        "hidden_size": 64,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 1,
        "bos_token_id": 1,
        "eos_token_id": 0,
        "pad_token_id": 0,
    }
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the same weights every time: the same objects found, the same timings
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=512))
    model.save_pretrained(out)
    CLIPImageProcessor().save_pretrained(out)
    return out
