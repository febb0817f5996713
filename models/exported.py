"""An encoder's image pass run by ONNX Runtime: exported from the loaded PyTorch model once, cached, checked.

ONNX Runtime's CPU kernels do the same float32 arithmetic in less time than PyTorch's eager passes,
and give the same embeddings to about 1e-6: a MobileNetV2 search 247 -> 182 ms, its builds 2.7x as
fast; a CLIP-B/32 search 3-5% faster only (docs/speed.md). The graph is exported the
first time a model is loaded and kept in the user cache, one a model configuration. What is found
there is checked against the PyTorch model on the probe image first: a graph of other weights of
that configuration, or a damaged file, is exported again; a model that cannot be exported runs in
PyTorch.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol, cast

import numpy as np
import torch

from core.paths import cache_root

log = logging.getLogger(__name__)

OPSET = 17
# Largest difference allowed between the graph's and PyTorch's normalised probe embedding; float32 kernels
# differ by about 1e-6, a graph of other weights by far more.
AGREEMENT = 1e-4
INPUT, OUTPUT = "pixel_values", "embedding"


class ExportedPass:
    """A model's pooled image embedding as an ONNX Runtime session: (N, 3, H, W) float32 -> (N, D)."""

    def __init__(self, path: Path, threads: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        # Memory goes back to the heap after each pass (the engine trims it), not into an arena that keeps
        # a batch's high-water mark.
        options.enable_cpu_mem_arena = False
        # Its threads stop spinning when a pass returns: spinning on, they took the cores from the detector's
        # PyTorch threads (a detector pass 42 -> 86 ms); never spinning, a CLIP pass lost most of its gain.
        options.add_session_config_entry("session.force_spinning_stop", "1")
        self.path = path
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.session.run([OUTPUT], {INPUT: pixels.contiguous().numpy()})[0])


def exported_pass(
    name: str, model: torch.nn.Module, pooled, probe: torch.Tensor, variant: str = ""
) -> ExportedPass | None:
    """`pooled(model, pixels)` as an `ExportedPass`, from the cache or exported now; None where ONNX
    Runtime is not installed or the model cannot be exported (it then runs in PyTorch).

    `probe` is the model's prepared probe image (1, 3, H, W): its shape is the graph's, and its embedding
    tells a graph of these weights from any other. `variant` names weights kept beside the model's own
    (a catalog's tuned block, `models.tuning`), so that neither graph overwrites the other in the cache."""
    try:
        import onnxruntime
    except ImportError:
        log.info("ONNX Runtime is not installed: the encoder runs in PyTorch (pip install onnxruntime onnx).")
        return None
    with torch.inference_mode():
        expected = _unit(pooled(model, probe))
    path = _graph_path(model, probe.shape, onnxruntime.__version__, variant)
    if path.exists() and (cached := _agreeing(path, probe, expected)):
        return cached
    log.info("Exporting the encoder %s to ONNX, once: kept in %s.", name, path)
    try:
        _export(model, pooled, probe, path)
    except Exception as exc:
        log.warning("The encoder %s could not be exported to ONNX (%s); it runs in PyTorch.", name, exc)
        return None
    exported = _agreeing(path, probe, expected)
    if exported is None:
        log.warning("The encoder %s exported to ONNX does not give PyTorch's embeddings; it runs in PyTorch.", name)
    return exported


def _agreeing(path: Path, probe: torch.Tensor, expected: np.ndarray) -> ExportedPass | None:
    """The graph at `path`, where it runs and embeds the probe as the PyTorch model did (`expected`)."""
    try:
        exported = ExportedPass(path, torch.get_num_threads())
        found = _unit(exported(probe))
    except Exception as exc:
        log.info("The ONNX graph %s could not be run (%s).", path, exc)
        return None
    if found.shape != expected.shape or float(np.abs(found - expected).max()) > AGREEMENT:
        log.info("The ONNX graph %s is not of these weights.", path)
        return None
    return exported


def _export(model: torch.nn.Module, pooled, probe: torch.Tensor, path: Path) -> None:
    """Export `pooled(model, pixels)` with a free batch size, written aside and renamed into place."""
    import warnings

    class Pass(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, pixels):
            return pooled(self.model, pixels)

    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice, once per model
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pass().eval(),
                (probe,),
                str(part),
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_axes={INPUT: {0: "images"}, OUTPUT: {0: "images"}},
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


class _Config(Protocol):
    """What a graph's name reads of a `transformers` model's configuration (transformers itself is
    models.encoder's alone)."""

    model_type: str

    def to_json_string(self) -> str: ...


def _graph_path(model: torch.nn.Module, shape, runtime_version: str, variant: str = "") -> Path:
    """Where the graph of `model` is kept: named by what it depends on but the weights (the model's
    configuration, the input's shape, torch's and ONNX Runtime's versions), which the probe checks."""
    config = cast(_Config, model.config)  # mypy reads a Module attribute as torch types __getattr__: Tensor or Module
    key = hashlib.sha256(
        "\n".join([config.to_json_string(), str(tuple(shape)), torch.__version__, runtime_version, str(OPSET)]).encode()
    ).hexdigest()[:16]
    return cache_root() / "onnx" / f"{config.model_type}-{key}{'-' + variant if variant else ''}.onnx"


def _unit(features: torch.Tensor) -> np.ndarray:
    array = features.float().numpy()
    return array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)
