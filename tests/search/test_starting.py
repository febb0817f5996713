"""An engine that follows its index: a new live version is served without a restart, thumbnails of the
version before stay reachable, and a version that cannot be served is refused while the old one serves."""

import time

import pytest

from core.settings import Settings
from index.builder.build import build_index
from index.builder.update import update_index
from index.catalog.open import open_catalog
from models.encoder import load_encoder
from search.starting import StartingEngine
from support import colour_catalog, save_tiny_vit

SHOP = [("P0", "Chair", (255, 0, 0)), ("P1", "Sofa", (0, 0, 255)), ("P2", "Rug", (255, 255, 0))]


@pytest.fixture
def shop(tmp_path, tiny_clip_path, tiny_yolo_path):
    """A started engine over a tiny shop's index, and the shop's folder."""
    starting = StartingEngine(_settings(tmp_path, tiny_clip_path, tiny_yolo_path)).start()
    assert starting.wait(120) is not None, starting.error
    yield starting, tmp_path
    starting.stop()


def test_a_first_start_serves_the_index_once_embedded_then_swaps_in_its_hubness_and_close_ups(
    tmp_path, tiny_clip_path, tiny_yolo_path
):
    settings = _settings(tmp_path, tiny_clip_path, tiny_yolo_path)
    served = []

    def started() -> StartingEngine:
        starting = StartingEngine(settings)
        starting.when_ready(lambda engine: served.append(engine.index))
        assert starting.start().wait(120) is not None, starting.error
        return starting

    first = started()
    assert [(index.hubness is not None, index.close_ups is not None) for index in served] == [
        (False, False),
        (True, True),
    ]
    assert first.engine.index is served[-1]
    served.clear()
    started()  # a later start: measured already, so served at once as it is
    assert len(served) == 1 and served[0].close_ups is not None


def _settings(folder, tiny_clip_path, tiny_yolo_path) -> Settings:
    """The settings of a tiny shop's app, its index in `folder`."""
    catalog = colour_catalog(folder, SHOP)
    return Settings.of(
        detector=str(tiny_yolo_path),
        encoder=str(tiny_clip_path),
        catalog=str(catalog),
        index_dir=str(folder / "idx"),
        device="cpu",
    )


def _add_lamp(folder, encoder) -> None:
    catalog = colour_catalog(folder, [*SHOP, ("P3", "Table lamp", (0, 200, 0))])
    update_index(open_catalog(catalog), encoder, folder / "idx", progress=False)


def test_a_new_live_version_is_served_and_the_one_before_keeps_its_thumbnails(shop, tiny_clip):
    starting, folder = shop
    before = starting.engine
    seen = []
    starting.when_ready(seen.append)
    assert seen == [before] and not starting.reload_if_changed()

    _add_lamp(folder, tiny_clip)
    assert starting.reload_if_changed()

    after = starting.engine
    assert after is not before and seen == [before, after] and starting.previous == before.index.path
    assert [p.id for p in after.index.products] == ["P0", "P1", "P2", "P3"]
    assert after.detector is before.detector  # the models are kept; only the index is new
    assert starting.engine.search_text("lamp").products[0].product.id == "P3"
    assert starting.thumbnail(after.index.path.name, 3) == after.index.path / "images" / "3.jpg"
    assert starting.thumbnail(before.index.path.name, 0) == before.index.path / "images" / "0.jpg"
    for version, row in ((after.index.path.name, 4), ("v-elsewhere", 0), ("..", 0), (before.index.path.name, -1)):
        assert starting.thumbnail(version, row) is None


def test_the_watcher_swaps_the_new_version_in_by_itself(shop, tiny_clip):
    starting, folder = shop
    before = starting.engine
    starting.follow(every=0.05)
    _add_lamp(folder, tiny_clip)
    deadline = time.monotonic() + 30
    while starting.engine is before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(starting.engine.index) == 4


def test_a_version_of_another_encoder_is_refused_once_and_the_served_one_stays(shop, tmp_path_factory, caplog):
    starting, folder = shop
    before = starting.engine
    other = load_encoder(str(save_tiny_vit(tmp_path_factory.mktemp("other") / "vit")), device="cpu")
    build_index(open_catalog(folder / "catalog.csv"), other, folder / "idx", progress=False)

    assert not starting.reload_if_changed()
    assert starting.engine is before and "cannot be served" in caplog.text and "rebuild the index" in caplog.text
    caplog.clear()
    assert not starting.reload_if_changed() and not caplog.text  # not tried, nor logged, again
    assert starting.engine.search_text("rug").products[0].product.id == "P2"


@pytest.mark.parametrize(
    ("done", "total", "said"),
    [
        (0, 0, "Reading the catalog and loading the models"),
        (2, 6, "Indexing the catalog: 2 of 6 products (33%)"),
        (6, 6, "Indexing the catalog: 6 products embedded, finishing"),
    ],
)
def test_the_status_says_where_the_start_is(done, total, said):
    starting = StartingEngine(Settings.of())
    starting.done, starting.total = done, total
    assert said in starting.status
