"""The default catalog (Amazon Berkeley Objects on the Hub), read through its default reading from a
local stand-in laid out as the Hub mirror is documented (tests.support.abo_standin): listings joined
to the 256 px images by id, home product types kept, English marketplaces preferred under the cap,
each listing linked to its own store. Nothing is downloaded.
"""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from core.defaults import ABO_HOME_TYPES, DEFAULT_CATALOG, DEFAULT_CATALOG_READING
from core.settings import Settings, SettingsError
from index.builder.build import build_index
from index.catalog.open import open_catalog
from index.catalog.source import CatalogError, ColumnMap, Reading
from index.catalog.tables import ParquetTable, dataset_files
from index.catalog_index import CatalogIndex
from support import ABO_LISTINGS, abo_colour, abo_standin


@pytest.fixture
def abo(tmp_path):
    return abo_standin(tmp_path / "abo")


def default_settings(limit: int | None = None, **overrides):
    """The default catalog's settings (with another cap, or other values, where named)."""
    given = {**DEFAULT_CATALOG_READING, **({"catalog_limit": limit} if limit is not None else {}), **overrides}
    return Settings.of(catalog="/elsewhere", **given).catalog


def default_reading(limit: int | None = None, **overrides) -> Reading:
    return Reading.from_settings(default_settings(limit, **overrides))


def open_default(folder, limit: int | None = None, **overrides):
    """`folder` read as the default catalog is, by the settings' columns and reading (index.builder.ensure's way)."""
    settings = default_settings(limit, **overrides)
    return open_catalog(folder, ColumnMap(text=settings.text_column_list), Reading.from_settings(settings))


def test_the_default_settings_read_the_listings_joined_to_their_small_images():
    settings = Settings.of().catalog
    assert settings.source == DEFAULT_CATALOG and settings.catalog_config == "listings"
    assert settings.image_reference == ("images_small", "main_image_id", "image_id")
    assert settings.keep_rows == ("product_type", ABO_HOME_TYPES)
    assert settings.preferred_rows[0] == "country" and "US" in settings.preferred_rows[1]
    assert settings.catalog_limit == 2000
    assert Reading.from_settings(settings) == default_reading()


def test_the_default_reading_keeps_home_goods_joins_images_and_links_each_store(abo):
    catalog = open_default(abo, limit=0)
    items = list(catalog)
    homes = [listing for listing in ABO_LISTINGS if listing[3] in ABO_HOME_TYPES and "missing" not in listing[6]]
    assert [i.id for i in items] == [listing[0] for listing in homes]  # phone case, shoe and imageless chair out
    assert catalog.columns["image"] == "main_image_id" and catalog.text_columns == ("brand_en", "color_en")
    sofa = items[0]
    assert (sofa.name, sofa.category, sofa.attributes) == (
        'Rivet Revolve Modern Upholstered Sofa, 80"W, Grey',
        "SOFA",
        {"brand_en": "Rivet", "color_en": "Grey"},
    )
    links = {i.id: i.link for i in items}
    assert links["B07B4FZ5QL"] == "https://www.amazon.com/dp/B07B4FZ5QL"
    assert links["B07DBJ2BQS"] == "https://www.amazon.co.uk/dp/B07DBJ2BQS"
    assert links["B07NL0BANK"] == "https://www.amazon.nl/dp/B07NL0BANK"
    assert links["B07HOMEMIR"] is None  # a marketplace no store is known for: no link rather than a wrong one
    assert catalog.source.type == "disk" and catalog.source.config == "listings"


def test_the_cap_prefers_english_marketplaces_and_spreads_over_types(abo):
    items = list(open_default(abo, limit=4))
    # One of each type (CHAIR, HOME_MIRROR, LAMP, SOFA) of the five, English stores first: the US chair
    # and sofa, not the Mexican and Dutch ones; the same four on every run.
    assert sorted(i.id for i in items) == ["B075X4QMX3", "B07B4FZ5QL", "B07HOMEMIR", "B07JGH9R8C"]
    assert [i.id for i in open_default(abo, limit=4)] == [i.id for i in items]


def test_the_default_catalog_builds_end_to_end_with_each_listing_its_own_image(abo, tiny_clip, tmp_path):
    catalog = open_default(abo, limit=0)
    report = build_index(catalog, tiny_clip, tmp_path / "index", progress=False)
    index = CatalogIndex.load(tmp_path / "index", tiny_clip)
    assert report.products == len(index.products) == 7 and not report.skipped
    assert index.manifest.source.credit == DEFAULT_CATALOG_READING["catalog_credit"]
    assert index.manifest.source.title == "Amazon Berkeley Objects"  # the page names it so, not by its slug
    row_of = {listing[0]: i for i, listing in enumerate(ABO_LISTINGS)}
    for product in index.products:  # each thumbnail is the listing's own image, found by its id
        painted = np.asarray(Image.open(product.image).convert("RGB"), np.float32).mean(axis=(0, 1))
        assert np.abs(painted - abo_colour(row_of[product.id])).max() < 8, product.id
    rows, _ = index.table.text.search("walnut", 5)
    assert [index.products[r].name for r in rows] == ["Stone & Beam Dining Chair, Walnut"]


def test_stored_images_are_read_from_the_row_groups_that_hold_them_alone(abo, monkeypatch):
    files = dataset_files(str(abo), "images_small")
    table = ParquetTable(files)
    assert table.image_columns == ["image"] and pq.ParquetFile(files.files[0]).metadata.num_row_groups == 2
    read = []
    original = pq.ParquetFile.read_row_group
    monkeypatch.setattr(
        pq.ParquetFile, "read_row_group", lambda self, i, *a, **k: read.append(i) or original(self, i, *a, **k)
    )
    [value] = table.values_at("image", [(1, 3)])  # the second file's second row group
    assert read == [1] and Image.open(__import__("io").BytesIO(value["bytes"])).size == (64, 64)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"catalog_images": "images_tiny:main_image_id=image_id"}, "images_tiny"),
        ({"catalog_images": "images_small:main_image_id=picture_id"}, "no column 'picture_id' to find images by"),
        ({"catalog_images": "images_small:hero_image=image_id"}, "no column 'hero_image' naming its images"),
        ({"catalog_keep": "product_type=SPACESHIP"}, "No row of the catalog has product_type in SPACESHIP"),
        ({"catalog_prefer": "marketplace=US"}, "no column 'marketplace' to prefer rows by"),
        ({"link_template": "https://shop.example/{sku}"}, "names 'sku', which is not a column"),
    ],
)
def test_a_reading_the_catalog_cannot_follow_is_refused(abo, overrides, message):
    with pytest.raises(CatalogError, match=message):
        list(open_default(abo, **overrides))


def test_raw_abo_listings_take_the_english_value_of_each_field(tmp_path):
    Image.new("RGB", (16, 16), (200, 10, 10)).save(tmp_path / "a.jpg")
    listing = {
        "item_id": "B01",
        "image": "a.jpg",
        "product_type": [{"value": "SOFA"}],
        "item_name": [
            {"language_tag": "de_DE", "value": "Sofa, grau"},
            {"language_tag": "en_US", "value": "Sofa, grey"},
        ],
        "color": [{"language_tag": "de_DE", "value": "grau"}],
    }
    (tmp_path / "listings.jsonl").write_text(json.dumps(listing) + "\n")
    reading = Reading(keep=("product_type", ("SOFA",)), links=(None, {"": "https://www.amazon.com/dp/{item_id}"}))
    [item] = open_catalog(tmp_path / "listings.jsonl", ColumnMap(), reading)
    assert (item.name, item.category, item.attributes, item.link) == (
        "Sofa, grey",
        "SOFA",
        {"color": "grau"},
        "https://www.amazon.com/dp/B01",
    )  # no English colour: the first


def test_another_catalog_is_read_as_it_is():
    settings = Settings.of(catalog="/data/my-shop").catalog
    assert (
        settings.keep_rows,
        settings.link_template,
        settings.catalog_credit,
        settings.catalog_limit,
        settings.image_reference,
    ) == (None, "", "", 0, None)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"catalog_keep": "product_type"}, "must be 'column=value,value'"),
        ({"catalog_keep": "=SOFA"}, "must be 'column=value,value'"),
        ({"catalog_prefer": "country"}, "must be 'column=value,value'"),
        ({"catalog_images": "images_small"}, "must be 'CONFIG:column=column'"),
        ({"link_template": "javascript:alert({item_id})"}, "must start with https://"),
        ({"link_template": '{"country": {"US": "file:///etc/passwd"}}'}, "must start with https://"),
        ({"link_template": '{"country": "US"}'}, "must be a link, or JSON"),
        ({"catalog_limit": -1}, "between 0 and"),
    ],
)
def test_settings_a_catalog_cannot_be_read_with_are_refused(overrides, message):
    with pytest.raises(SettingsError, match=message):
        Settings.of(catalog="/data/my-shop", **overrides)
