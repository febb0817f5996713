"""python -m train adapt: a linear map of the frozen encoder's embeddings, learnt from the catalog's photos
alone, stored with the index and applied to its vectors and to queries alike."""

import numpy as np
import pytest
from PIL import Image

from core.types import EncoderInfo
from index.builder.adapted import write_adapted
from index.catalog_index import CatalogIndex
from index.errors import IndexMismatchError
from index.store.manifest import AdaptationInfo
from index.store.versions import live_version
from index.views.rooms import room_views
from models.adaptation import Adaptation, AdaptationError, AdaptedEncoder
from models.encoder import load_encoder
from search.engine import Engine, load_engine
from train.__main__ import main
from train.adapt import FitSettings, fit_adaptation


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _rooms(rng, anchors: np.ndarray, owners: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Views of the products `owners`: each its product's vector faded under a room's few directions,
    which weigh more than what tells two products apart."""
    return (
        anchors[owners] * 0.4
        + rng.normal(size=(len(owners), len(room))) @ room
        + rng.normal(scale=0.03, size=(len(owners), anchors.shape[1]))
    )


def test_adaptation_brings_two_views_of_one_product_closer_than_views_of_two_products():
    rng = np.random.default_rng(0)
    anchors = _unit(rng.normal(size=(40, 32)))
    room = rng.normal(size=(3, 32)) * 0.5
    owners = np.repeat(np.arange(40), 8)
    adaptation, report = fit_adaptation(
        anchors,
        _rooms(rng, anchors, owners, room),
        owners,
        np.arange(40),
        FitSettings(epochs=40, identity_weight=0.0, lr=1e-2, batch=64),
    )
    # New views, none of them fitted on: pairs of views of one product, and of two products.
    first, second = _rooms(rng, anchors, np.arange(40), room), _rooms(rng, anchors, np.arange(40), room)
    other = np.roll(second, 1, axis=0)

    def margin(a, b, c):  # similarity of views of one product minus that of views of two products
        return float(np.mean(np.sum(a * b, axis=1)) - np.mean(np.sum(a * c, axis=1)))

    frozen = margin(_unit(first), _unit(second), _unit(other))
    adapted = margin(adaptation.apply(first), adaptation.apply(second), adaptation.apply(other))
    assert frozen < 0.15 < adapted
    assert report.held_top1_after > report.held_top1_before + 0.2


def test_views_are_cut_as_the_engine_cuts_a_detection(tmp_path):
    photos = [np.full((60, 40, 3), 255, np.uint8) for _ in range(4)]
    for i, photo in enumerate(photos):
        photo[10:50, 8:32] = (60 * i, 200, 40)
    views = list(room_views([Image.fromarray(p) for p in photos], 3, (250, 250, 250), 0.05))
    assert {row for _, row in views} == {0, 1, 2, 3}
    assert 8 <= len(views) <= 12  # 3 of each, less those another hid in its room
    for view, _ in views:
        assert view.width == view.height and view.mode == "RGB"


def test_an_adapted_index_loads_and_maps_queries_as_its_vectors(tiny_index, tiny_vit_path, capsys):
    before = live_version(tiny_index.catalog.index_dir)
    assert (
        main(["adapt", "--index", tiny_index.catalog.index_dir, "--views", "3", "--epochs", "2", "--no-progress"]) == 0
    )
    assert "Adapted 5 catalog photos' vectors" in capsys.readouterr().out
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    assert index.path != before and before.exists()  # a new version; the one before stays, as after a build
    info = index.manifest.adaptation
    assert info.method == "linear-infonce" and info.figures["views"] > 0 and info.encoder == encoder.describe()
    assert "adaptation.safetensors" in index.manifest.checksums
    engine = Engine(None, encoder, index)
    assert isinstance(engine.encoder, AdaptedEncoder) and engine.encoder.adaptation is index.adaptation
    # The catalog's vectors went through the map the queries go through: each photo finds itself.
    for product in index.products:
        [match] = engine.search(product.image, top_k=1).objects[0].products
        assert match.product.id == product.id and match.score == pytest.approx(1.0, abs=0.01)
    # The one way to load it gives the adapted encoder too.
    assert isinstance(load_engine(tiny_index, progress=False).encoder, AdaptedEncoder)


def test_an_adapted_index_is_not_adapted_twice(tiny_index, capsys):
    assert (
        main(["adapt", "--index", tiny_index.catalog.index_dir, "--views", "1", "--epochs", "1", "--no-progress"]) == 0
    )
    assert main(["adapt", "--index", tiny_index.catalog.index_dir, "--no-progress"]) == 2
    assert "is adapted already (linear-infonce); rebuild it" in capsys.readouterr().err


def test_an_adaptation_learnt_on_another_encoder_is_refused(tiny_index, tiny_vit_path):
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    other = AdaptationInfo(
        EncoderInfo("someone-elses-vit", "vit", "cls", encoder.dim),
        tuple(-x for x in index.manifest.probe),
        "linear-infonce",
        "2026-12-06T00:00:00+00:00",
    )
    write_adapted(index, Adaptation.identity(encoder.dim), other)
    with pytest.raises(IndexMismatchError, match=r"was learnt on the encoder 'someone-elses-vit'.*does not fit"):
        CatalogIndex.load(tiny_index.catalog.index_dir, encoder)


def test_an_adaptation_of_another_size_is_refused_and_the_live_index_kept(tiny_index, tiny_vit_path):
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    info = AdaptationInfo(encoder.describe(), index.manifest.probe, "linear-infonce", "2026-12-06T00:00:00+00:00")
    with pytest.raises(AdaptationError, match=f"do not fit an adaptation of dimension {encoder.dim + 1}"):
        write_adapted(index, Adaptation.identity(encoder.dim + 1), info)
    assert live_version(tiny_index.catalog.index_dir) == index.path
    with pytest.raises(AdaptationError, match=f"maps {encoder.dim + 1}-d embeddings"):
        AdaptedEncoder(encoder, Adaptation.identity(encoder.dim + 1))


def test_an_encoder_adapted_to_one_index_is_refused_by_another(tiny_index, tiny_vit_path):
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    with pytest.raises(IndexMismatchError, match="adapted to another index"):
        index.query_encoder(AdaptedEncoder(encoder, Adaptation.identity(encoder.dim)))


@pytest.mark.parametrize(
    "mean, matrix, message",
    [
        (np.zeros(3, np.float32), np.eye(4, dtype=np.float32), "a mean \\(D,\\) and a matrix \\(D, D\\)"),
        (np.zeros(3, np.float32), np.full((3, 3), np.nan, np.float32), "not finite"),
    ],
)
def test_a_malformed_adaptation_is_named(mean, matrix, message):
    with pytest.raises(AdaptationError, match=message):
        Adaptation(mean, matrix)


def test_out_writes_the_adapted_index_elsewhere_and_leaves_the_index_as_it_was(tiny_index, tiny_vit_path, tmp_path):
    source = live_version(tiny_index.catalog.index_dir)
    assert (
        main(
            [
                "adapt",
                "--index",
                tiny_index.catalog.index_dir,
                "--out",
                str(tmp_path / "adapted"),
                "--views",
                "1",
                "--epochs",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    encoder = load_encoder(str(tiny_vit_path))
    assert CatalogIndex.load(tmp_path / "adapted", encoder).adaptation is not None
    assert live_version(tiny_index.catalog.index_dir) == source
    assert CatalogIndex.load(tiny_index.catalog.index_dir, encoder).adaptation is None
