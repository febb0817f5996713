"""The default catalog (Amazon Berkeley Objects on the Hub), read from a small local stand-in with its columns.

Nothing is downloaded: the tests make a dataset with the Hub mirror's columns (and a raw ABO listings
file, whose text fields are lists of {"language_tag", "value"}) and read it with the default catalog's
settings: furniture kept, names, product types, links made from the item id, the credit recorded.
"""

import json

import pytest
from PIL import Image

from core.settings import ABO_HOME_TYPES, DEFAULT_CATALOG, Settings, SettingsError
from index.build import build_index
from index.catalog import CatalogError, ColumnMap, Reading, open_catalog
from index.catalog_index import CatalogIndex

# (item_id, item_name_en, brand_en, product_type, color_en)
ROWS = [
    ("B07B4FZ5QL", "Rivet Revolve Modern Upholstered Sofa, 80\"W, Grey", "Rivet", "SOFA", "Grey"),
    ("B075X4QMX3", "Stone & Beam Dining Chair, Walnut", "Stone & Beam", "CHAIR", "Walnut"),
    ("B07HSLQ8JZ", "Amazon Basics Phone Case", "AmazonBasics", "CELLULAR_PHONE_CASE", "Black"),
    ("B07DBJ2BQS", "Ravenna Home Round Side Table", "Ravenna Home", "TABLE", "White"),
    ("B0794YXHDB", "Amazon Essentials Men's Running Shoe", "Amazon Essentials", "SHOES", "Blue"),
    ("B07JGH9R8C", "Stone & Beam Ceramic Table Lamp", "Stone & Beam", "LAMP", "White"),
]


@pytest.fixture
def abo_folder(tmp_path):
    """A `save_to_disk` folder with the columns of the Hub mirror's product table."""
    import datasets

    columns = list(zip(*ROWS))
    features = datasets.Features({
        "item_id": datasets.Value("string"), "item_name_en": datasets.Value("string"),
        "brand_en": datasets.Value("string"), "product_type": datasets.Value("string"),
        "color_en": datasets.Value("string"), "main_image_id": datasets.Value("string"), "image": datasets.Image()})
    data = {"item_id": columns[0], "item_name_en": columns[1], "brand_en": columns[2], "product_type": columns[3],
            "color_en": columns[4], "main_image_id": [f"{i:02d}abcdef" for i in range(len(ROWS))],
            "image": [Image.new("RGB", (32, 32), (40 * i, 90, 200 - 30 * i)) for i in range(len(ROWS))]}
    datasets.Dataset.from_dict(data, features=features).save_to_disk(tmp_path / "abo")
    return tmp_path / "abo"


def test_the_default_catalog_is_read_as_furniture_with_names_types_links_and_credit(abo_folder):
    settings = Settings.of().catalog
    assert settings.source == DEFAULT_CATALOG and settings.keep_rows == ("product_type", ABO_HOME_TYPES)
    catalog = open_catalog(abo_folder, ColumnMap(), Reading.from_settings(settings))

    items = list(catalog)
    assert [i.category for i in items] == ["SOFA", "CHAIR", "TABLE", "LAMP"]  # phone cases and shoes left out
    sofa = items[0]
    assert (sofa.id, sofa.name) == ("B07B4FZ5QL", 'Rivet Revolve Modern Upholstered Sofa, 80"W, Grey')
    assert sofa.link == "https://www.amazon.com/dp/B07B4FZ5QL"
    assert sofa.attributes == {"brand_en": "Rivet", "color_en": "Grey"}  # the image id holds no words
    assert sofa.price is None  # ABO has no prices
    assert catalog.source.kept.startswith("product_type=CHAIR,SOFA")
    assert "CC BY 4.0" in catalog.source.credit and "Amazon.com" in catalog.source.credit


def test_the_index_of_the_default_catalog_records_its_credit_and_searches_its_words(abo_folder, tmp_path, tiny_clip):
    catalog = open_catalog(abo_folder, ColumnMap(), Reading.from_settings(Settings.of().catalog))
    build_index(catalog, tiny_clip, tmp_path / "index", progress=False)
    index = CatalogIndex.load(tmp_path / "index", tiny_clip)
    assert index.manifest.source.credit == Settings.of().catalog.catalog_credit
    assert [p.id for p in index.products if p.link == f"https://www.amazon.com/dp/{p.id}"] == [r[0] for r in ROWS
                                                                                             if r[3] in ABO_HOME_TYPES]
    rows, _ = index.table.text.search("walnut", 5)
    assert len(rows) == 1 and index.products[rows[0]].name == "Stone & Beam Dining Chair, Walnut"


def test_raw_abo_listings_take_the_english_value_of_each_field(tmp_path):
    Image.new("RGB", (16, 16), (200, 10, 10)).save(tmp_path / "a.jpg")
    listing = {"item_id": "B01", "image": "a.jpg", "product_type": [{"value": "SOFA"}],
               "item_name": [{"language_tag": "de_DE", "value": "Sofa, grau"},
                             {"language_tag": "en_US", "value": "Sofa, grey"}],
               "color": [{"language_tag": "de_DE", "value": "grau"}]}
    (tmp_path / "listings.jsonl").write_text(json.dumps(listing) + "\n")
    [item] = open_catalog(tmp_path / "listings.jsonl", ColumnMap(), Reading(keep=("product_type", ("SOFA",)),
                                                                            link_template="https://www.amazon.com/dp/{item_id}"))
    assert (item.name, item.category, item.attributes, item.link) == (
        "Sofa, grey", "SOFA", {"color": "grau"}, "https://www.amazon.com/dp/B01")  # no English colour: the first


def test_another_catalog_is_read_as_it_is():
    settings = Settings.of(catalog="/data/my-shop").catalog
    assert (settings.keep_rows, settings.link_template, settings.catalog_credit) == (None, "", "")


@pytest.mark.parametrize("reading, message", [
    (Reading(keep=("department", ("SOFA",))), "no column 'department' to keep rows by"),
    (Reading(keep=("product_type", ("SPACESHIP",))), "No row of the catalog has product_type in SPACESHIP"),
    (Reading(link_template="https://shop.example/{sku}"), "names 'sku', which is not a column"),
])
def test_a_reading_the_catalog_cannot_follow_is_refused(abo_folder, reading, message):
    with pytest.raises(CatalogError, match=message):
        open_catalog(abo_folder, ColumnMap(), reading)


@pytest.mark.parametrize("overrides, message", [
    ({"catalog_keep": "product_type"}, "must be 'column=value,value'"),
    ({"catalog_keep": "=SOFA"}, "must be 'column=value,value'"),
    ({"link_template": "javascript:alert({item_id})"}, "must start with https://"),
])
def test_settings_a_catalog_cannot_be_read_with_are_refused(overrides, message):
    with pytest.raises(SettingsError, match=message):
        Settings.of(catalog="/data/my-shop", **overrides)
