"""Each catalog photo's middle (`settings.catalog.close_up_share`), embedded with the hubness after a build and
stored with the index: what a photo of one product is matched against, a room's crops staying on the whole photos."""

from dataclasses import replace

import numpy as np
import pytest

from core.boxes import centre_crop
from core.images import load_image
from core.settings import CatalogSettings, Settings
from index.__main__ import main as index_main
from index.builder.hubbed import write_hubness
from index.catalog_index import CatalogIndex
from index.errors import IndexCorruptError, IndexMismatchError
from index.store.close_ups import CloseUps, load_close_ups, save_close_ups
from index.store.manifest import CloseUpInfo, HubnessInfo
from index.store.versions import live_version
from models.encoder import load_encoder
from search.engine import Engine
from support import FIVE_PRODUCTS, colour_catalog, ensure
from train.__main__ import main

HUBS = HubnessInfo(8, 1, "2026-12-08T00:00:00+00:00")


def _settings(tmp_path, tiny_vit_path, **values) -> Settings:
    catalog = colour_catalog(tmp_path / "shop", FIVE_PRODUCTS)
    return Settings.of(encoder=str(tiny_vit_path), catalog=str(catalog), index_dir=str(tmp_path / "idx"), **values)


def test_a_build_as_the_app_builds_embeds_each_photos_middle_and_checks_it_as_its_other_files(
    tiny_index, tiny_vit_path
):
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    share = tiny_index.catalog.close_up_share
    assert share < 1 and index.manifest.close_ups == CloseUpInfo(share)
    assert "close-ups.safetensors" in index.manifest.checksums
    middles = encoder.embed_images([centre_crop(load_image(p.image), share) for p in index.products])
    stored = index.close_ups.sample(np.arange(5))
    assert np.allclose(stored, middles, atol=1e-5) and not np.allclose(stored, index.vectors.sample(np.arange(5)))
    assert index.close_up_hubness.shape == (5,) and np.isfinite(index.close_up_hubness).all()
    (index.path / "close-ups.safetensors").write_bytes(b"not the file")
    with pytest.raises(IndexCorruptError):
        CatalogIndex.load(tiny_index.catalog.index_dir)


def test_a_share_of_one_embeds_none_and_another_share_is_measured_anew_when_next_served(tmp_path, tiny_vit_path):
    settings = _settings(tmp_path, tiny_vit_path, close_up_share=1.0)
    index, _ = ensure(settings, build=True, progress=False)
    assert index.hubness is not None and index.manifest.close_ups is None and index.close_ups is None
    framed = replace(settings, catalog=replace(settings.catalog, close_up_share=0.8))
    assert ensure(framed, progress=False)[0].close_ups is None  # served as it is where nothing may be built
    measured, _ = ensure(framed, build=True, progress=False)
    assert measured.manifest.close_ups.share == 0.8 and measured.path != index.path
    assert ensure(framed, build=True, progress=False)[0].path == measured.path  # measured once
    assert ensure(settings, build=True, progress=False)[0].close_ups is None  # and dropped when set to none


def test_an_approximate_index_keeps_no_close_ups(tmp_path, tiny_vit_path):
    index, _ = ensure(_settings(tmp_path, tiny_vit_path, vector_index="hnsw"), build=True, progress=False)
    assert index.manifest.vectors.backend == "faiss-hnsw" and index.hubness is not None and index.close_ups is None


@pytest.mark.parametrize("box", [None, (0, 0, 10**5, 10**5)])  # its whole photo, leading; a region chosen
def test_a_photo_of_one_product_is_matched_against_the_middles_and_lowered_by_their_hubness_a_room_against_both(
    tiny_index, tiny_vit_path, box
):
    encoder, directory = load_encoder(str(tiny_vit_path)), tiny_index.catalog.index_dir
    index = CatalogIndex.load(directory, encoder)
    whole, photo = index.vectors.sample(np.arange(5)), load_image(index.products[0].image)
    hubs = np.zeros(5, np.float32)

    def searched(close_up_hubness: np.ndarray):
        # Each row's middle made the whole photo of the row before it: P0's own photo now lies on P1's middle.
        close_ups = CloseUps(np.roll(whole, 1, axis=0), close_up_hubness), CloseUpInfo(0.79)
        write_hubness(CatalogIndex.load(directory), hubs, HUBS, close_ups=close_ups)
        rolled = CatalogIndex.load(directory, encoder)
        # Any other query takes each product at the better of its whole's and its middle's similarity, once.
        both = rolled.search(whole[:1], 2)[0]
        assert {m.product.id for m in both} == {"P0", "P1"} and [m.score for m in both] == pytest.approx([1, 1])
        assert sorted(m.product.id for m in rolled.search(whole[:1], 5)[0]) == ["P0", "P1", "P2", "P3", "P4"]
        assert rolled.search(whole[:1], 1, close_up=True)[0][0].product.id == "P1"
        [obj] = Engine(None, encoder, rolled).search(photo, box=box).objects
        return obj.products

    products = searched(hubs)
    assert products[0].product.id == "P1" and products[0].score == pytest.approx(1.0, abs=1e-3)
    lifted = hubs.copy()
    lifted[1] = 2.0  # P1's middle a hub, far above any gap of similarities: lowered to the last
    assert searched(lifted)[-1].product.id == "P1"


def test_close_ups_of_another_size_are_refused_and_the_live_index_kept(tiny_index):
    index = CatalogIndex.load(tiny_index.catalog.index_dir)
    wrong = CloseUps(np.zeros((4, index.dim), np.float32), np.zeros(4, np.float32)), CloseUpInfo(0.79)
    with pytest.raises(IndexMismatchError, match="do not fit an index of 5 photos"):
        write_hubness(index, np.zeros(5, np.float32), HUBS, close_ups=wrong)
    assert live_version(tiny_index.catalog.index_dir) == index.path


@pytest.mark.parametrize(
    ("vectors", "hubness", "message"),
    [
        (np.zeros((4, 8)), np.zeros(4), "hold \\(4, 8\\) vectors for 5 photos"),
        (np.zeros((5, 7)), np.zeros(5), "hold \\(5, 7\\) vectors"),
        (np.zeros((5, 8)), np.zeros(4), "hold \\(5, 8\\) vectors for 5 photos"),
        (np.full((5, 8), np.nan), np.zeros(5), "not numbers"),
    ],
)
def test_stored_close_ups_that_do_not_fit_the_manifest_are_refused(tiny_index, tmp_path, vectors, hubness, message):
    manifest = CatalogIndex.load(tiny_index.catalog.index_dir).manifest
    manifest = replace(manifest, products=5, encoder=replace(manifest.encoder, dim=8), close_ups=CloseUpInfo(0.79))
    save_close_ups(tmp_path, CloseUps(vectors, hubness), manifest.close_ups)
    with pytest.raises(IndexCorruptError, match=message):
        load_close_ups(tmp_path, manifest)


def test_adapting_an_index_drops_its_close_ups_and_an_update_embeds_them_anew(tiny_index, tmp_path, capsys):
    directory = tiny_index.catalog.index_dir
    colour_catalog(tmp_path / "shop", [*FIVE_PRODUCTS, ("P5", "Lamp", (250, 250, 250))])
    assert index_main(["update", "--index", directory]) == 0
    assert f"The middle {CatalogSettings.close_up_share:g} of each photo is embedded" in capsys.readouterr().out
    updated = CatalogIndex.load(directory)
    assert len(updated.close_ups) == 6 and updated.close_up_hubness.shape == (6,)
    assert main(["adapt", "--index", directory, "--views", "1", "--epochs", "1", "--no-progress"]) == 0
    adapted = CatalogIndex.load(directory)
    assert adapted.manifest.adaptation is not None and adapted.manifest.close_ups is None and adapted.close_ups is None
