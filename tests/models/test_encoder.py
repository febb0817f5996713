"""Encoders load through the production loader and always return L2-normalised float32 (N, D)."""

import numpy as np
import pytest
import torch
from PIL import Image

from models.encoder import CPU_BATCH_CONVOLUTIONAL, CPU_BATCH_TRANSFORMER, EncoderError, load_encoder

IMAGES = [
    Image.new("RGB", (50, 40), (200, 20, 20)),
    Image.new("RGB", (20, 80), (20, 20, 200)),
    Image.effect_noise((64, 64), 40).convert("RGB"),
]


@pytest.fixture(scope="module")
def tiny_vit(tiny_vit_path):
    return load_encoder(str(tiny_vit_path), device="cpu")


@pytest.mark.parametrize("which, dim, pooling", [("tiny_clip", 16, "image_features"), ("tiny_vit", 24, "cls")])
def test_image_embeddings_are_normalised_float32(request, which, dim, pooling):
    encoder = request.getfixturevalue(which)
    vectors = encoder.embed_images(IMAGES)
    assert vectors.shape == (3, dim) and vectors.dtype == np.float32 and vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert encoder.dim == dim and encoder.pooling == pooling
    assert not np.allclose(vectors[0], vectors[1])  # different images, different embeddings


def test_batch_equals_one_by_one(tiny_clip):
    batch = tiny_clip.embed_images(IMAGES)
    single = np.stack([tiny_clip.embed_images([im])[0] for im in IMAGES])
    np.testing.assert_allclose(batch, single, atol=1e-5)


@pytest.mark.parametrize("forward_batch", [1, 2, 16])
def test_the_forward_batch_leaves_the_embeddings_unchanged(tiny_clip_path, forward_batch):
    encoder = load_encoder(str(tiny_clip_path), device="cpu")
    whole = encoder.embed_images(IMAGES * 3)
    encoder.forward_batch = forward_batch
    np.testing.assert_allclose(encoder.embed_images(IMAGES * 3), whole, atol=1e-5)
    np.testing.assert_allclose(encoder.embed_prepared(encoder.prepare(IMAGES * 3)), whole, atol=1e-5)


def test_images_are_prepared_a_few_whole_passes_at_a_time_with_the_same_embeddings(tiny_clip_path, monkeypatch):
    import models.encoder

    encoder = load_encoder(str(tiny_clip_path), device="cpu")
    encoder.forward_batch = 2
    images = IMAGES * 5
    at_once = encoder.embed_prepared(encoder.prepare(images))
    monkeypatch.setattr(models.encoder, "PREPARED_AT_ONCE", 5)  # rounded down to whole passes: 4
    prepared = []
    prepare = encoder.prepare
    monkeypatch.setattr(encoder, "prepare", lambda chunk: prepared.append(len(chunk)) or prepare(chunk))
    np.testing.assert_array_equal(encoder.embed_images(images), at_once)
    assert prepared == [4] * (len(images) // 4) + ([len(images) % 4] if len(images) % 4 else [])


def test_a_convolutional_net_runs_in_small_batches_a_transformer_in_large_ones(tiny_clip, tiny_vit):
    from support import MOBILENET, SHARED_MISSING, SHARED_REASON

    assert tiny_clip.forward_batch == tiny_vit.forward_batch == CPU_BATCH_TRANSFORMER
    if SHARED_MISSING:
        pytest.skip(SHARED_REASON)
    assert load_encoder(str(MOBILENET), device="cpu").forward_batch == CPU_BATCH_CONVOLUTIONAL


def test_a_convolutional_net_runs_channels_last_with_the_embeddings_of_the_usual_layout(tmp_path):
    from support import save_tiny_resnet

    path = str(save_tiny_resnet(tmp_path / "resnet"))
    fast, usual = load_encoder(path, device="cpu", runtime="torch"), load_encoder(path, device="cpu", runtime="torch")
    assert fast.channels_last and fast.model.embedder.embedder.convolution.weight.is_contiguous(
        memory_format=torch.channels_last
    )
    usual.channels_last = False
    usual.model.to(memory_format=torch.contiguous_format)
    np.testing.assert_allclose(fast.embed_images(IMAGES), usual.embed_images(IMAGES), atol=1e-5)
    assert fast.dim == 16 and fast.pooling == "pooler"


def test_mobilenet_v2_joins_its_pooled_output_and_its_last_blocks_map_each_at_half_the_cosine(tmp_path):
    from support import save_tiny_mobilenet

    encoder = load_encoder(str(save_tiny_mobilenet(tmp_path / "mobilenet")), device="cpu", runtime="torch")
    vectors = encoder.embed_images(IMAGES)
    with torch.inference_mode():
        output = encoder.model(pixel_values=encoder.prepare(IMAGES), output_hidden_states=True)
    pooled, last = output.pooler_output.flatten(1).numpy(), output.hidden_states[-1].mean(dim=(2, 3)).numpy()
    assert encoder.pooling == "pooler_and_map" and encoder.dim == pooled.shape[1] + last.shape[1]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    halves = vectors[:, : pooled.shape[1]], vectors[:, pooled.shape[1] :]
    for half, whole in zip(halves, (pooled, last)):
        # each half is its own direction, at a norm of 1/sqrt(2)
        np.testing.assert_allclose(np.linalg.norm(half, axis=1), 0.5**0.5, rtol=1e-5)
        np.testing.assert_allclose(half, whole / np.linalg.norm(whole, axis=1, keepdims=True) * 0.5**0.5, atol=1e-5)


def test_a_transformer_keeps_its_layout(tiny_vit):
    assert not tiny_vit.channels_last


@pytest.mark.parametrize("which", ["tiny_clip", "tiny_vit"])
def test_bfloat16_embeddings_are_float32_and_near_the_full_precision_ones(request, which):
    full = request.getfixturevalue(which)
    half = load_encoder(full.name, device="cpu", precision="bfloat16")
    vectors = half.embed_images(IMAGES)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    cosines = np.sum(vectors * full.embed_images(IMAGES), axis=1)
    assert cosines.min() > 0.99 and not np.array_equal(vectors, full.embed_images(IMAGES))  # it did run in bf16
    if full.reads_text:
        assert float(half.embed_texts(["red"])[0] @ full.embed_texts(["red"])[0]) > 0.99


def test_probe_identifies_the_weights(tiny_clip, tiny_clip_path, tiny_vit):
    again = load_encoder(str(tiny_clip_path), device="cpu")
    assert float(tiny_clip.probe() @ again.probe()) > 0.999
    info = tiny_vit.describe()
    assert (info.name, info.model_type, info.pooling, info.dim) == (tiny_vit.name, "vit", "cls", 24)


@pytest.mark.parametrize("name", ["/no/such/model", "not-a-real-org/not-a-real-model-xyz"])
def test_missing_model_is_a_clear_error(name):
    with pytest.raises(EncoderError, match="Could not load the encoder"):
        load_encoder(name)


def test_empty_batch_is_refused(tiny_clip):
    with pytest.raises(EncoderError, match="at least one"):
        tiny_clip.embed_images([])


def test_a_clip_model_embeds_words_into_the_space_of_its_images(tiny_clip):
    words = tiny_clip.embed_texts(["green velvet armchair", "oak"])
    assert tiny_clip.reads_text and words.dtype == np.float32 and words.shape == (2, tiny_clip.dim)
    np.testing.assert_allclose(np.linalg.norm(words, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(words[0], words[1])


def test_an_image_only_model_refuses_words(tiny_vit, tiny_clip_path, tmp_path):
    assert not tiny_vit.reads_text
    with pytest.raises(EncoderError, match="embeds images only"):
        tiny_vit.embed_texts(["sofa"])
    # A CLIP saved without its tokenizer still searches images; it only cannot read words.
    import shutil

    bare = shutil.copytree(tiny_clip_path, tmp_path / "bare")
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"):
        (bare / name).unlink(missing_ok=True)
    encoder = load_encoder(str(bare), device="cpu")
    assert encoder.pooling == "image_features" and not encoder.reads_text
