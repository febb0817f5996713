"""Faults a network gives, injected by the local Hub (bench.hub) while the default catalog is read and built
through its `hf://` paths: what may pass is retried (429 honouring Retry-After, bursts of 5xx, a dropped
connection, a slow shard), what a product can lose is counted (a damaged image file, an empty image row), and
the rest stops the build with its reason, quickly."""

import time

import pytest

import index.catalog.retrying
from bench.hub import Faults
from bench.hub_data import Mirror, item_id, mirror_folder
from core.settings import Settings
from index.builder.build import build_index
from index.catalog.open import open_catalog
from index.catalog.source import CatalogError, ColumnMap, Reading
from index.catalog.tables import TableError
from support import abo_standin, local_hub

IMAGES = "images_small/images_small-00001-of-00002.parquet"  # holds 3 of the 7 home products' images
LISTINGS = "listings/listings-00001-of-00002.parquet"


@pytest.fixture
def abo(tmp_path):
    return abo_standin(tmp_path / "abo")


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    """Our own retries (those huggingface_hub does not make) 20x quicker; the library's keep their 1 s."""
    monkeypatch.setattr(index.catalog.retrying, "FIRST_WAIT_S", 0.05)


def build_default(folder, out, encoder, limit: int | None = None):
    """The default catalog's settings, read and built as `ensure_index` does."""
    settings = Settings.of(**({"catalog_limit": limit} if limit else {})).catalog
    catalog = open_catalog(settings.source, ColumnMap(text=settings.text_column_list), Reading.from_settings(settings))
    return build_index(catalog, encoder, out, progress=False)


@pytest.mark.parametrize(
    "faults, least_s",
    [
        (Faults(fail=[["/revision/", 500, 2, None]]), 0.0),  # the repository's info: retried by us
        (Faults(fail=[["/tree/", 503, 2, None]]), 1.0),  # the file listing: huggingface_hub's backoff
        (Faults(fail=[[IMAGES, 429, 1, 1]]), 1.0),  # a ranged read: huggingface_hub's backoff, Retry-After honoured
        (Faults(fail=[[IMAGES, 503, 2, None]]), 1.0),
        (Faults(drop={IMAGES: 1}), 1.0),  # the body cut half way, the connection closed
        (Faults(slow={IMAGES: 0.3}), 0.3),
    ],
    ids=["500-info", "503-tree", "429-retry-after", "503-burst", "dropped", "slow-shard"],
)
def test_what_may_pass_is_retried_and_the_build_is_whole(abo, monkeypatch, tmp_path, tiny_clip, faults, least_s):
    with local_hub(monkeypatch, abo, faults) as hub:
        start = time.monotonic()
        report = build_default(abo, tmp_path / "index", tiny_clip)
        took = time.monotonic() - start
    assert report.products == 7 and not report.skipped
    assert took >= least_s and took < 30
    assert all(rule[2] == 0 for rule in faults.fail) and all(left == 0 for left in faults.drop.values())
    assert hub.stats()["requests"] > 20


def test_a_hub_failing_on_every_try_stops_the_start_with_its_reason_quickly(abo, monkeypatch, tmp_path, tiny_clip):
    with local_hub(monkeypatch, abo, Faults(fail=[["/api/", 503, 1000, None]])) as hub:
        start = time.monotonic()
        with pytest.raises(CatalogError, match=r"503.*the Hub failed on every try; try again in a few minutes"):
            build_default(abo, tmp_path / "index", tiny_clip)
    assert time.monotonic() - start < 10 and hub.stats()["GET revision"] == 5


def test_a_truncated_listings_file_stops_the_build_saying_which(abo, monkeypatch, tmp_path, tiny_clip):
    with local_hub(monkeypatch, abo, Faults(truncate={LISTINGS})), pytest.raises(TableError) as raised:
        build_default(abo, tmp_path / "index", tiny_clip)
    assert LISTINGS in str(raised.value) and "is not a readable parquet file" in str(raised.value)
    assert "damaged or cut short" in str(raised.value) and not (tmp_path / "index" / "CURRENT").exists()


def test_a_truncated_image_file_stops_the_build_saying_which(abo, monkeypatch, tmp_path, tiny_clip):
    # The image ids are read whole to join the listings to them: a file cut short hides which images exist.
    with local_hub(monkeypatch, abo, Faults(truncate={IMAGES})), pytest.raises(TableError, match="cut short"):
        build_default(abo, tmp_path / "index", tiny_clip)


def test_a_damaged_row_group_of_images_costs_its_products_alone(abo, monkeypatch, tmp_path, tiny_clip):
    with local_hub(monkeypatch, abo, Faults(garble={IMAGES})):
        report = build_default(abo, tmp_path / "index", tiny_clip)
    assert 0 < len(report.skipped) < 3 and set(report.reasons) == {"damaged image file"}
    assert report.products == 7 - len(report.skipped) and IMAGES in report.skipped[0][2]


def test_an_image_row_without_its_image_is_counted_and_replaced_under_the_cap(monkeypatch, tmp_path, tiny_clip):
    whole = mirror_folder(Mirror(listings=80, shards=2), tmp_path / "mirrors")
    settings = Settings.of(catalog_limit=10).catalog
    with local_hub(monkeypatch, whole):  # the products a cap of 10 takes, without the fault
        catalog = open_catalog(
            settings.source, ColumnMap(text=settings.text_column_list), Reading.from_settings(settings)
        )
        ids = [item.id for item in catalog]
    broken = mirror_folder(Mirror(listings=80, shards=2, broken=(ids[3],)), tmp_path / "mirrors")
    with local_hub(monkeypatch, broken):
        report = build_default(broken, tmp_path / "index", tiny_clip, limit=10)
    assert report.products == 10 and report.reasons == {"unreadable image": 1} and report.skipped[0][0] == ids[3]
    assert ids[3] not in report.ids and len(report.ids - set(ids)) == 1 and item_id(1) not in report.ids
