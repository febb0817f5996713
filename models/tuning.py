"""A catalog's tuning of an encoder's last block (`python -m train block`): new values for the weights of
the image pass's last block and of everything after it, the rest of the encoder frozen.

Where `models.adaptation` maps the frozen encoder's embeddings, this changes how they are made: the
last block sees the whole crop's features, not their pooled summary. Catalog photos and queries are
embedded alike, by a copy of the encoder with the tuned weights.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from .adaptation import AdaptationError, IndexEncoder
from .encoder import POOLINGS, Encoder, probe_image
from .exported import exported_pass

METHOD = "last-block-infonce"  # the manifest's AdaptationInfo.method of a tuned index
FILE = "block.safetensors"
# A CLIP-family model's text tower and its temperature: never part of the image pass.
TEXT_PREFIXES = ("text", "logit")


def tail_names(model: torch.nn.Module) -> list[str]:
    """The names of the parameters of `model`'s image pass from its last block on: the last module of
    the image tower's last stack of blocks (an `nn.ModuleList` of two or more) and every parameter
    registered after it, which `transformers` registers in the order they run (MobileNetV2: `layer.15`
    and `conv_1x1`; ViT: `encoder.layer[-1]` and `layernorm`; CLIP: the vision tower's last layer,
    `post_layernorm` and `visual_projection`)."""
    stacks = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and len(module) >= 2 and not name.startswith(TEXT_PREFIXES)
    ]
    if not stacks:
        raise AdaptationError(f"{type(model).__name__} has no stack of blocks whose last one could be tuned.")
    blocks = model.get_submodule(stacks[-1])
    assert isinstance(blocks, torch.nn.ModuleList)  # as found above; get_submodule is typed as any Module
    last = f"{stacks[-1]}.{len(blocks) - 1}."
    names = [name for name, _ in model.named_parameters() if not name.startswith(TEXT_PREFIXES)]
    first = next(i for i, name in enumerate(names) if name.startswith(last))
    return names[first:]


class BlockTuning:
    """Parameter name -> its tuned value (float32), for a model whose `tail_names` they are."""

    def __init__(self, weights: Mapping[str, np.ndarray]):
        if not weights:
            raise AdaptationError("A tuning holds no weights.")
        self.weights = {name: np.ascontiguousarray(value, np.float32) for name, value in weights.items()}
        if not all(np.isfinite(value).all() for value in self.weights.values()):
            raise AdaptationError("The tuned weights hold values that are not finite numbers.")

    @property
    def digest(self) -> str:
        """Tells these weights from any other (the name of their ONNX graph)."""
        sha = hashlib.sha256()
        for name in sorted(self.weights):
            sha.update(name.encode())
            sha.update(self.weights[name].tobytes())
        return sha.hexdigest()[:16]

    def applied_to(self, base: Encoder) -> Encoder:
        """A copy of `base` with these weights (`copy_of`), its image pass exported to ONNX where `base`'s is."""
        tuned = copy_of(base, self.weights)
        parameters = dict(tuned.model.named_parameters())
        for name, value in self.weights.items():
            if name not in parameters or tuple(parameters[name].shape) != value.shape:
                raise AdaptationError(
                    f"The tuned weight {name!r} {value.shape} is not one of the encoder {base.name!r}'s: the "
                    f"tuning was made for another encoder. Rebuild the index, then tune it again."
                )
            with torch.no_grad():
                parameters[name].copy_(torch.from_numpy(value))
        if base.exported is not None:
            pixels = tuned.prepare([probe_image()])
            tuned.exported = exported_pass(base.name, tuned.model, POOLINGS[tuned.pooling], pixels, self.digest)
        return tuned


def copy_of(base: Encoder, own: Collection[str] | None = None) -> Encoder:
    """A copy of `base`, run by PyTorch, whose parameters `own` (None: all) are its own; every other weight
    and every buffer it shares with `base`: a CLIP with its last block tuned holds that block twice, not all."""
    shared: list[torch.Tensor] = [t for name, t in base.model.named_parameters() if own is not None and name not in own]
    shared += base.model.buffers()
    return Encoder(
        name=base.name,
        model=copy.deepcopy(base.model, memo={id(t): t for t in shared}),
        processor=base.processor,
        device=base.device,
        tokenizer=base.tokenizer,
        forward_batch=base.forward_batch,
        precision=base.precision,
    )


class TunedEncoder(IndexEncoder):
    """An encoder whose images are embedded with a catalog's tuned last block: the encoder a tuned index
    is searched with (`index.catalog_index.CatalogIndex.query_encoder`). Words go through the frozen text
    tower. It identifies itself as the frozen encoder (`probe`, `describe`), which the index checks."""

    adaptation: BlockTuning

    def __init__(self, base, tuning: BlockTuning):
        self.base, self.adaptation = base, tuning
        self.tuned = tuning.applied_to(base)
        self.name, self.dim, self.device, self.reads_text = base.name, base.dim, base.device, base.reads_text

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.tuned.embed_images(images)

    def prepare(self, images: Sequence[Image.Image]):
        return self.tuned.prepare(images)

    def embed_prepared(self, prepared) -> np.ndarray:
        return self.tuned.embed_prepared(prepared)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.base.embed_texts(texts)
