"""The encoder's image pass in ONNX Runtime: the same embeddings as PyTorch's, exported once, never stale."""

import os
import sys

import numpy as np
import pytest
from PIL import Image

from models import exported
from models.encoder import load_encoder

IMAGES = [
    Image.new("RGB", (50, 40), (200, 20, 20)),
    Image.effect_noise((64, 64), 40).convert("RGB"),
    Image.new("RGB", (20, 80), (20, 20, 200)),
]


@pytest.fixture
def graphs(tmp_path, monkeypatch):
    """The user cache, here: where the graphs go."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "lookalike" / "onnx"


@pytest.fixture(params=["clip", "vit", "resnet", "mobilenet"])
def model_path(request, tmp_path):
    from support import save_tiny_clip, save_tiny_mobilenet, save_tiny_resnet, save_tiny_vit

    save = {"clip": save_tiny_clip, "vit": save_tiny_vit, "resnet": save_tiny_resnet, "mobilenet": save_tiny_mobilenet}[
        request.param
    ]
    return str(save(tmp_path / request.param))


def test_onnx_runtime_gives_pytorchs_embeddings(model_path, graphs):
    fast = load_encoder(model_path, device="cpu", runtime="onnx")
    usual = load_encoder(model_path, device="cpu", runtime="torch")
    assert fast.exported is not None and usual.exported is None
    vectors = fast.embed_images(IMAGES * 3)  # more than one forward batch for the conv net
    assert vectors.dtype == np.float32 and vectors.shape == usual.embed_images(IMAGES * 3).shape
    np.testing.assert_allclose(vectors, usual.embed_images(IMAGES * 3), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert [p.name for p in graphs.iterdir()] == [fast.exported.path.name]


def test_a_graph_is_exported_once_and_then_loaded(tiny_clip_path, graphs):
    first = load_encoder(str(tiny_clip_path), device="cpu", runtime="onnx").exported.path
    written = first.stat().st_mtime_ns
    again = load_encoder(str(tiny_clip_path), device="cpu", runtime="onnx").exported.path
    assert again == first and first.stat().st_mtime_ns == written


@pytest.mark.parametrize("spoil", ["damaged", "other weights"])
def test_a_graph_that_is_not_of_these_weights_is_exported_again(tmp_path, graphs, spoil):
    from support import save_tiny_clip

    one, two = str(save_tiny_clip(tmp_path / "one")), str(save_tiny_clip(tmp_path / "two"))  # one shape, other weights
    path = load_encoder(one, device="cpu", runtime="onnx").exported.path
    if spoil == "damaged":
        path.write_bytes(b"not a graph")
        again = load_encoder(one, device="cpu", runtime="onnx")
    else:
        again = load_encoder(two, device="cpu", runtime="onnx")  # the same configuration: the file `one` wrote
    assert again.exported.path == path
    np.testing.assert_allclose(
        again.embed_images(IMAGES),
        load_encoder(again.name, device="cpu", runtime="torch").embed_images(IMAGES),
        atol=1e-5,
    )


def test_auto_runs_a_convolutional_net_in_onnx_runtime_and_a_transformer_in_pytorch(tmp_path, tiny_vit_path, graphs):
    from support import save_tiny_resnet

    assert load_encoder(str(save_tiny_resnet(tmp_path / "resnet")), device="cpu").exported is not None
    assert load_encoder(str(tiny_vit_path), device="cpu").exported is None


def test_bfloat16_and_the_torch_runtime_run_in_pytorch(tiny_vit_path, graphs):
    assert load_encoder(str(tiny_vit_path), device="cpu", precision="bfloat16", runtime="onnx").exported is None
    assert load_encoder(str(tiny_vit_path), device="cpu", runtime="torch").exported is None
    assert not graphs.exists()


def test_a_model_that_cannot_be_exported_runs_in_pytorch(tiny_vit_path, graphs, monkeypatch, caplog):
    def refuse(*args, **kwargs):
        raise RuntimeError("Exporting the operator 'aten::something' to ONNX opset version 17 is not supported.")

    monkeypatch.setattr(exported.torch.onnx, "export", refuse)
    encoder = load_encoder(str(tiny_vit_path), device="cpu", runtime="onnx")
    assert encoder.exported is None and encoder.embed_images(IMAGES).shape == (3, 24)
    assert "could not be exported" in caplog.text


def test_without_onnx_runtime_the_encoder_runs_in_pytorch(tiny_vit_path, graphs, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    assert load_encoder(str(tiny_vit_path), device="cpu", runtime="onnx").exported is None


def test_part_files_are_not_left_behind(tiny_vit_path, graphs):
    load_encoder(str(tiny_vit_path), device="cpu", runtime="onnx")
    assert all(not name.endswith(".part") for name in os.listdir(graphs))
