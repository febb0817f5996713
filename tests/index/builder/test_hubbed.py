"""Each catalog photo's hubness, measured on views in rooms of the catalog's photos after a build (or by
`python -m train hubs`), stored with the index and taken off its similarity when the engine ranks."""

from dataclasses import replace

import numpy as np
import pytest

from core.images import ImageError
from core.settings import SearchSettings, Settings
from index.__main__ import main as index_main
from index.builder import hubbed
from index.builder.hubbed import hubness, write_hubness
from index.catalog_index import CatalogIndex
from index.errors import IndexCorruptError, IndexMismatchError
from index.store.manifest import HubnessInfo
from index.store.versions import live_version
from index.views import embedded
from models.encoder import load_encoder
from search.engine import Engine
from support import FIVE_PRODUCTS, colour_catalog, ensure
from train.__main__ import main

E = np.eye(3, dtype=np.float32)


@pytest.mark.parametrize(
    ("photos", "views", "owners", "neighbours", "expected"),
    [
        # Photo 0 lies on two views of other photos, photo 1 on one: 0 is the greater hub.
        (E[:2], E[[0, 0, 1, 2]], [1, 1, 0, 0], 2, [1.0, 0.5]),
        # A photo's own views do not count: photo 0's nearest is then the view of photo 1, at 0.
        (E[:2], E[[0, 0, 1]], [0, 0, 1], 1, [0.0, 0.0]),
        # Neighbours beyond the views available are the views available, less one...
        (E[:1], E[[0, 0, 1]], [2, 2, 2], 9, [1.0]),
        # ...and those of other photos alone where a photo has more of its own.
        (E[[1, 1]], E[[0, 1, 1, 1]], [0, 1, 1, 1], 3, [1.0, 0.0]),
    ],
)
def test_a_photos_hubness_is_its_mean_similarity_to_its_nearest_views_of_other_photos(
    photos, views, owners, neighbours, expected
):
    assert hubness(photos, views, np.array(owners), neighbours) == pytest.approx(expected)


def test_hubness_is_the_same_measured_in_chunks(monkeypatch):
    rng = np.random.default_rng(0)
    photos, views = rng.normal(size=(11, 8)).astype(np.float32), rng.normal(size=(20, 8)).astype(np.float32)
    owners = rng.integers(0, 11, 20)
    whole = hubness(photos, views, owners, 3)
    monkeypatch.setattr(hubbed, "ROWS_AT_ONCE", 4)
    assert hubness(photos, views, owners, 3) == pytest.approx(whole)


def test_measured_hubness_is_stored_with_the_index_and_checked_as_its_other_files(tiny_index, tiny_vit_path, capsys):
    directory = tiny_index.catalog.index_dir
    before = live_version(directory)
    assert main(["hubs", "--index", directory, "--views", "8", "--no-progress"]) == 0
    assert "Measured the hubness of 5 catalog photos on 8 views" in capsys.readouterr().out
    index = CatalogIndex.load(directory, load_encoder(str(tiny_vit_path)))
    assert index.path != before and before.exists()  # a new version; the one before stays, as after a build
    assert index.manifest.hubness.views == 8 and "hubness.safetensors" in index.manifest.checksums
    assert index.hubness.shape == (5,) and np.isfinite(index.hubness).all()
    (index.path / "hubness.safetensors").write_bytes(b"not the file")
    with pytest.raises(IndexCorruptError):
        CatalogIndex.load(directory)


def test_the_engine_lowers_a_hub_below_a_product_nearly_as_close(tiny_index, tiny_vit_path):
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    # Without close-ups, so that the photo of one product below is matched against the whole photos' vectors.
    write_hubness(index, np.zeros(5, np.float32), HubnessInfo(8, 1, "2026-12-07T00:00:00+00:00"))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    red, unlowered = index.products[0], SearchSettings(hub_weight=0.0, close_up_hub_weight=0.0)
    ranked = [m.product.id for m in Engine(None, encoder, index, unlowered).search(red.image).objects[0].products]
    assert ranked[0] == "P0"
    lifted = np.zeros(5, np.float32)
    lifted[0] = 2.0  # far above any gap of similarities between the five photos
    write_hubness(index, lifted, HubnessInfo(8, 1, "2026-12-07T00:00:00+00:00"))
    hubbed = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    result = Engine(None, encoder, hubbed).search(red.image).objects[0]
    assert [m.product.id for m in result.products][-1] == "P0" and result.products[-1].score == pytest.approx(
        1.0, abs=1e-3
    )
    plain = Engine(None, encoder, hubbed, unlowered).search(red.image).objects[0]
    assert [m.product.id for m in plain.products] == ranked


@pytest.mark.parametrize(
    ("hub_weight", "close_up_hub_weight", "hub_first"),
    [(0.0, 0.75, False), (0.75, 0.0, True)],  # a photo of one product is lowered by the close-up weight alone
)
@pytest.mark.parametrize("box", [None, (0, 0, 10**5, 10**5)])  # its whole photo, leading; a region chosen
def test_a_photo_of_one_product_lowers_the_hubs_by_the_close_up_weight(
    tiny_index, tiny_vit_path, hub_weight, close_up_hub_weight, hub_first, box
):
    encoder = load_encoder(str(tiny_vit_path))
    index = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    lifted = np.zeros(5, np.float32)
    lifted[0] = 2.0
    write_hubness(index, lifted, HubnessInfo(8, 1, "2026-12-07T00:00:00+00:00"))
    hubbed = CatalogIndex.load(tiny_index.catalog.index_dir, encoder)
    settings = SearchSettings(hub_weight=hub_weight, close_up_hub_weight=close_up_hub_weight)
    [obj] = Engine(None, encoder, hubbed, settings).search(index.products[0].image, box=box).objects
    assert (obj.products[0].product.id == "P0") == hub_first


def test_hubness_of_another_size_is_refused_and_the_live_index_kept(tiny_index):
    index = CatalogIndex.load(tiny_index.catalog.index_dir)
    with pytest.raises(IndexMismatchError, match="do not fit an index of 5 photos"):
        write_hubness(index, np.zeros(4, np.float32), HubnessInfo(8, 1, "2026-12-07T00:00:00+00:00"))
    assert live_version(tiny_index.catalog.index_dir) == index.path


def test_adapting_an_index_drops_the_hubness_measured_before_its_map(tiny_index):
    directory = tiny_index.catalog.index_dir
    assert main(["hubs", "--index", directory, "--views", "4", "--no-progress"]) == 0
    assert main(["adapt", "--index", directory, "--views", "1", "--epochs", "1", "--no-progress"]) == 0
    index = CatalogIndex.load(directory)
    assert index.manifest.adaptation is not None and index.manifest.hubness is None and index.hubness is None


def test_an_update_that_changes_the_photos_measures_the_hubness_again(tiny_index, tmp_path, capsys):
    directory = tiny_index.catalog.index_dir
    assert main(["hubs", "--index", directory, "--views", "4", "--no-progress"]) == 0
    colour_catalog(tmp_path / "shop", [*FIVE_PRODUCTS, ("P5", "Lamp", (250, 250, 250))])
    assert index_main(["update", "--index", directory]) == 0
    index = CatalogIndex.load(directory)
    assert len(index) == 6 and index.hubness.shape == (6,) and np.isfinite(index.hubness).all()
    assert "hubness is measured on" in capsys.readouterr().out


def test_a_build_as_the_app_builds_measures_one_view_of_each_photo_of_a_small_catalog(tiny_index):
    index = CatalogIndex.load(tiny_index.catalog.index_dir)
    assert 2 <= index.manifest.hubness.views <= 5 and index.manifest.hubness.neighbours == 1
    assert index.hubness.shape == (5,) and np.isfinite(index.hubness).all()


def test_no_hub_views_measure_none_and_an_index_without_is_measured_when_next_served(tmp_path, tiny_vit_path):
    catalog = colour_catalog(tmp_path / "shop", FIVE_PRODUCTS)
    settings = Settings.of(encoder=str(tiny_vit_path), catalog=str(catalog), index_dir=str(tmp_path / "idx"))
    index, _ = ensure(replace(settings, catalog=replace(settings.catalog, hub_views=0)), build=True, progress=False)
    assert index.hubness is None and index.manifest.hubness is None
    served, _ = ensure(settings, progress=False)  # served as it is where nothing may be built
    assert served.hubness is None
    measured, _ = ensure(settings, build=True, progress=False)
    assert measured.manifest.hubness.views >= 2 and measured.path != index.path


def test_an_adapted_index_is_not_measured_when_served(tiny_index):
    directory = tiny_index.catalog.index_dir
    assert main(["adapt", "--index", directory, "--views", "1", "--epochs", "1", "--no-progress"]) == 0
    index, _ = ensure(tiny_index, build=True, progress=False)
    assert index.manifest.adaptation is not None and index.hubness is None


def test_index_build_measures_the_hubness_unless_told_none(tmp_path, tiny_vit_path, capsys):
    catalog = str(colour_catalog(tmp_path / "shop", FIVE_PRODUCTS))
    common = ["build", "--source", catalog, "--encoder", str(tiny_vit_path), "--device", "cpu"]
    assert index_main([*common, "--out", str(tmp_path / "a")]) == 0
    assert "hubness is measured on" in capsys.readouterr().out
    assert CatalogIndex.load(tmp_path / "a").hubness.shape == (5,)
    assert index_main([*common, "--out", str(tmp_path / "b"), "--hub-views", "0"]) == 0
    assert "hubness" not in capsys.readouterr().out and CatalogIndex.load(tmp_path / "b").hubness is None


def test_an_index_whose_photos_cannot_be_viewed_is_served_without_hubness(tmp_path, tiny_vit_path, monkeypatch, caplog):
    def unreadable(path):
        raise ImageError(f"{path} is not an image")

    monkeypatch.setattr(embedded, "load_image", unreadable)
    catalog = colour_catalog(tmp_path / "shop", FIVE_PRODUCTS)
    settings = Settings.of(encoder=str(tiny_vit_path), catalog=str(catalog), index_dir=str(tmp_path / "idx"))
    index, _ = ensure(settings, build=True, progress=False)
    assert len(index) == 5 and index.hubness is None
    assert "could not be measured" in caplog.text and "is not an image" in caplog.text
