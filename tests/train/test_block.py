"""python -m train block: the encoder's last block tuned on views in rooms of the catalog's photos, stored
with the index, the catalog embedded with it, and queries embedded alike."""

import numpy as np
import pytest
import torch

from core.images import load_image
from index.__main__ import main as index_main
from index.builder.adapted import write_tuned
from index.catalog_index import CatalogIndex
from index.errors import IndexCorruptError, IndexMismatchError
from index.store.manifest import AdaptationInfo
from models import tuning
from models.adaptation import AdaptationError
from models.encoder import load_encoder
from models.tuning import BlockTuning, TunedEncoder, tail_names
from search.engine import Engine, load_engine
from support import FIVE_PRODUCTS, colour_catalog, save_tiny_clip, save_tiny_resnet, save_tiny_vit
from train.__main__ import main


def _mobilenet(out):
    from transformers import MobileNetV2Config, MobileNetV2Model

    return MobileNetV2Model(MobileNetV2Config(depth_multiplier=0.35, image_size=32))


@pytest.mark.parametrize(
    ("build", "first", "last"),
    [
        # The last layer of the vision tower, its norm and its projection; never the text tower.
        (
            lambda out: load_encoder(str(save_tiny_clip(out))).model,
            "vision_model.encoder.layers.1.",
            "visual_projection",
        ),
        (lambda out: load_encoder(str(save_tiny_vit(out))).model, "layers.1.", "pooler.dense.bias"),
        # A ResNet's last stack is its stages: the last stage, whole.
        (lambda out: load_encoder(str(save_tiny_resnet(out))).model, "encoder.stages.1.", "encoder.stages.1."),
        # MobileNetV2: its last inverted residual and the 1x1 convolution after it.
        (_mobilenet, "layer.15.", "conv_1x1.normalization.bias"),
    ],
)
def test_the_tail_is_the_last_block_and_all_after_it(tmp_path, build, first, last):
    model = build(tmp_path / "model")
    names = tail_names(model)
    assert names[0].startswith(first) and names[-1].startswith(last)
    assert not any(name.startswith(("text", "logit")) for name in names)
    everything = [name for name, _ in model.named_parameters() if not name.startswith(("text", "logit"))]
    assert everything[-len(names) :] == names  # a contiguous tail of the image pass


@pytest.mark.parametrize(
    ("weights", "message"),
    [({}, "holds no weights"), ({"w": np.full(3, np.nan, np.float32)}, "not finite")],
)
def test_a_tuning_without_weights_or_of_non_finite_ones_is_refused(weights, message):
    with pytest.raises(AdaptationError, match=message):
        BlockTuning(weights)


def test_a_tuned_index_is_embedded_as_its_queries_are(tiny_index, tiny_vit_path, capsys):
    directory = tiny_index.catalog.index_dir
    assert main(["block", "--index", directory, "--views", "3", "--no-progress"]) == 0
    assert "weights of the encoder's last block on" in capsys.readouterr().out
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(directory, encoder)
    info = index.manifest.adaptation
    assert info.method == tuning.METHOD and info.file == "block.safetensors" and info.figures["views"] > 0
    assert "block.safetensors" in index.manifest.checksums and isinstance(index.adaptation, BlockTuning)
    assert set(index.adaptation.weights) == set(tail_names(encoder.model))
    engine = Engine(None, encoder, index)
    assert isinstance(engine.encoder, TunedEncoder) and engine.encoder.adaptation is index.adaptation
    # It is checked as the frozen encoder it was tuned from, yet embeds otherwise.
    assert np.array_equal(engine.encoder.probe(), encoder.probe())
    photo = [load_image(index.products[0].image)]
    assert not np.allclose(engine.encoder.embed_images(photo), encoder.embed_images(photo))
    # The catalog's vectors were made by the tuned block the queries go through: each photo finds itself.
    for product in index.products:
        [match] = engine.search(product.image, top_k=1).objects[0].products
        assert match.product.id == product.id and match.score == pytest.approx(1.0, abs=0.01)
    assert isinstance(load_engine(tiny_index, progress=False).encoder, TunedEncoder)


def test_a_tuned_index_is_neither_tuned_nor_adapted_again(tiny_index, capsys):
    directory = tiny_index.catalog.index_dir
    assert main(["block", "--index", directory, "--views", "1", "--no-progress"]) == 0
    assert main(["block", "--index", directory, "--no-progress"]) == 2
    assert main(["adapt", "--index", directory, "--no-progress"]) == 2
    assert capsys.readouterr().err.count("is adapted already (last-block-infonce); rebuild it") == 2


def _tuned_with(index, encoder, weights):
    info = AdaptationInfo(
        encoder.describe(), index.manifest.probe, tuning.METHOD, "2026-12-07T00:00:00+00:00", file=tuning.FILE
    )
    vectors = index.vectors.sample(np.arange(len(index)))
    return write_tuned(index, BlockTuning(weights), vectors, info)


def test_tuned_weights_that_are_not_the_encoders_are_refused(tiny_index, tiny_vit_path):
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    _tuned_with(index, encoder, {"layernorm.weight": np.ones(encoder.dim + 1, np.float32)})
    tuned = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    with pytest.raises(AdaptationError, match=r"'layernorm.weight' \(25,\) is not one of the encoder"):
        Engine(None, encoder, tuned)


def test_a_damaged_block_file_is_refused(tiny_index, tiny_vit_path):
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    path = _tuned_with(index, encoder, {"layernorm.weight": np.ones(encoder.dim, np.float32)})
    (path / "block.safetensors").write_bytes(b"not the file")
    with pytest.raises(IndexCorruptError):
        CatalogIndex.load(tiny_index.catalog.index_dir)


def test_a_tuned_index_is_refused_by_another_encoder(tiny_index, tiny_clip_path):
    assert main(["block", "--index", tiny_index.catalog.index_dir, "--views", "1", "--no-progress"]) == 0
    with pytest.raises(IndexMismatchError):
        CatalogIndex.load(tiny_index.catalog.index_dir, load_encoder(str(tiny_clip_path)))


def test_an_update_embeds_new_products_with_the_tuned_block(tiny_index, tiny_vit_path, tmp_path):
    directory = tiny_index.catalog.index_dir
    assert main(["block", "--index", directory, "--views", "2", "--no-progress"]) == 0
    colour_catalog(tmp_path / "shop", [*FIVE_PRODUCTS, ("P5", "Lamp", (250, 250, 250))])
    assert index_main(["update", "--index", directory]) == 0
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(directory, encoder)
    assert len(index) == 6 and index.manifest.adaptation.method == tuning.METHOD
    [match] = Engine(None, encoder, index).search(index.products[5].image, top_k=1).objects[0].products
    assert match.product.id == "P5" and match.score == pytest.approx(1.0, abs=0.01)


def test_a_tuned_conv_net_runs_its_own_onnx_graph_beside_the_frozen_ones(tmp_path):
    pytest.importorskip("onnxruntime")
    base = load_encoder(str(save_tiny_resnet(tmp_path / "resnet")), device="cpu", runtime="onnx")
    assert base.exported is not None
    generator = torch.Generator().manual_seed(0)
    weights = {
        name: (p.detach() + 0.5 * torch.randn(p.shape, generator=generator)).numpy()
        for name, p in base.model.named_parameters()
        if name in tail_names(base.model)
    }
    tuned = BlockTuning(weights).applied_to(base)
    assert tuned.exported is not None and tuned.exported.path != base.exported.path
    frozen = load_encoder(str(tmp_path / "resnet"), device="cpu", runtime="onnx")
    assert frozen.exported.path == base.exported.path  # the frozen graph was not overwritten
    assert not np.allclose(tuned.probe(), base.probe(), atol=1e-3)
    tuned.exported = None  # the same weights in PyTorch embed as the graph does
    assert np.allclose(tuned.probe(), BlockTuning(weights).applied_to(base).probe(), atol=1e-4)


def test_a_tuned_copy_shares_the_frozen_weights_and_leaves_the_encoders_own(tiny_clip_path):
    base = load_encoder(str(tiny_clip_path), device="cpu")
    names = tail_names(base.model)
    before = {name: p.detach().clone() for name, p in base.model.named_parameters()}
    tuned = BlockTuning(
        {name: np.zeros(tuple(p.shape), np.float32) for name, p in base.model.named_parameters() if name in names}
    )
    model = tuned.applied_to(base).model
    mine, theirs = dict(model.named_parameters()), dict(base.model.named_parameters())
    assert all((mine[name] is theirs[name]) == (name not in names) for name in theirs)
    assert all(torch.equal(before[name], p) for name, p in base.model.named_parameters())
    assert all(not mine[name].any() for name in names)


@pytest.mark.parametrize("flags", [["--views", "0"], ["--epochs", "0"]])
def test_no_views_or_no_epochs_are_refused_before_any_work(tiny_index, flags, capsys):
    assert main(["block", "--index", tiny_index.catalog.index_dir, *flags, "--no-progress"]) == 2
    assert "--views and --epochs must be at least 1" in capsys.readouterr().err
