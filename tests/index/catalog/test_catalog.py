"""Reading catalogs: CSV/JSONL manifests, datasets (in memory, saved, ClassLabel columns), and their sources."""

import json
from pathlib import Path

import pytest
from PIL import Image

from index.catalog.open import open_catalog
from index.catalog.source import CatalogError, CatalogSource, ColumnMap


def test_a_csv_with_guessed_columns(color_catalog):
    catalog = open_catalog(color_catalog)
    assert len(catalog) == 6 and catalog.currency == "USD"
    assert catalog.columns == {
        "image": "image",
        "id": "sku",
        "name": "title",
        "category": "category",
        "price": "price_usd",
        "link": "url",
        "popularity": None,
        "more_images": None,
    }
    assert catalog.text_columns == ()  # every other column is the image's path
    first = next(iter(catalog))
    assert (first.row, first.id, first.name, first.category, first.price, first.link) == (
        0,
        "P0",
        "Red thing",
        "chair",
        10.5,
        "https://shop.example/red",
    )
    assert first.image == color_catalog.parent / "img" / "red.png"  # relative to the manifest's folder
    assert catalog.source == CatalogSource("local", path=str(color_catalog.resolve()))
    (color_catalog.parent / "products.csv").write_text(color_catalog.read_text())
    assert len(open_catalog(color_catalog.parent)) == 6  # a folder holding products.csv


def test_explicit_columns_and_jsonl(tmp_path):
    rows = [{"pic": "a.jpg", "ref": "X1", "label": "Lamp", "cost": "1,299", "page": "javascript:alert(1)"}]
    (tmp_path / "cat.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    columns = ColumnMap(image="pic", id="ref", name="label", price="cost", link="page")
    [item] = list(open_catalog(tmp_path / "cat.jsonl", columns))
    assert (item.id, item.name, item.price) == ("X1", "Lamp", 1299.0)
    assert item.link is None  # only http(s) links reach the page


def test_datasets_in_memory_saved_and_labelled(tmp_path):
    import datasets

    images = [Image.new("RGB", (24, 24), (i * 40, 0, 255 - i * 40)) for i in range(3)]
    dataset = datasets.Dataset.from_dict(
        {"photo": images, "title": [f"Item {i}" for i in range(3)]},
        features=datasets.Features({"photo": datasets.Image(), "title": datasets.Value("string")}),
    )
    catalog = open_catalog(dataset)
    assert [(i.id, i.name) for i in catalog] == [("0", "Item 0"), ("1", "Item 1"), ("2", "Item 2")]  # ids: rows
    assert catalog.columns["image"] == "photo" and catalog.source.type == "dataset"

    datasets.DatasetDict({"train": dataset}).save_to_disk(tmp_path / "saved")
    saved = open_catalog(tmp_path / "saved")
    assert saved.source == CatalogSource("disk", path=str((tmp_path / "saved").resolve()), split="train")
    assert len(saved) == 3

    # An image folder's ClassLabel column: categories (and, lacking names, captions) read as words.
    labelled = datasets.Dataset.from_dict(
        {"image": images[:2], "label": [1, 0]},
        features=datasets.Features(
            {"image": datasets.Image(), "label": datasets.ClassLabel(names=["sofa", "armchair"])}
        ),
    )
    assert [(i.name, i.category) for i in open_catalog(labelled)] == [("armchair", "armchair"), ("sofa", "sofa")]


@pytest.mark.parametrize(
    "content, columns, message",
    [
        ("", ColumnMap(), "no rows"),
        ("name,price\nchair,3\n", ColumnMap(), "No image column"),
        ("image,name\na.jpg,chair\n", ColumnMap(name="title"), "no column 'title'"),
    ],
)
def test_bad_catalogs(tmp_path, content, columns, message):
    (tmp_path / "c.csv").write_text(content)
    with pytest.raises(CatalogError, match=message):
        open_catalog(tmp_path / "c.csv", columns)


def test_missing_catalog_file(tmp_path):
    with pytest.raises(CatalogError, match="No catalog file"):
        open_catalog(tmp_path / "nope.csv")
    with pytest.raises(CatalogError, match="holds none of"):
        open_catalog(tmp_path)


@pytest.mark.parametrize(
    "source, setting, named",
    [
        (CatalogSource("hub", id="o/d"), "o/d", True),
        (CatalogSource("hub", id="o/d"), "o/other", False),
        (CatalogSource("local", path="/data/shop/products.csv"), "/data/shop/products.csv", True),
        (CatalogSource("local", path="/data/shop/products.csv"), "/data/shop", True),  # the folder holding it
        (CatalogSource("local", path="/data/shop/products.csv"), "/data/other", False),
        (CatalogSource("disk", path="/data/saved"), "/data/saved", True),
        (CatalogSource("dataset", fingerprint="abc"), "abc", False),
    ],
)
def test_a_catalog_setting_names_a_recorded_source(source, setting, named):
    assert source.is_named_by(setting) is named


@pytest.mark.parametrize(
    "source, title",
    [
        (CatalogSource("hub", id="o/d"), "o/d"),
        (CatalogSource("local", path="/data/ikea-hk/products.csv"), "ikea-hk"),
        (CatalogSource("local", path="/data/shop/items.csv"), "items.csv"),
    ],
)
def test_source_title(source, title):
    assert source.title == title
    assert CatalogSource(**source.to_dict()) == source and None not in source.to_dict().values()


def test_sources_are_recorded_without_empty_fields():
    assert CatalogSource("local", path=str(Path("/x.csv"))).to_dict() == {"type": "local", "path": "/x.csv"}


def test_the_columns_that_hold_words_are_kept_for_text_search(tmp_path):
    from support import write_csv

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    row = {
        "image": "a.png",
        "id": "A",
        "name": "Sofa",
        "colour": "Hallarp beige",
        "description": "Deep seats.",
        "width": "200",
        "photo_2": "img/b.jpg",
        "page": "https://shop.example/a",
        "rating": "4.5",
    }
    catalog = open_catalog(write_csv(tmp_path / "c.csv", [row, {**row, "id": "B", "description": ""}]))
    assert catalog.text_columns == ("colour", "description") and catalog.columns["popularity"] == "rating"
    first, second = catalog
    assert first.attributes == {"colour": "Hallarp beige", "description": "Deep seats."} and first.popularity == 4.5
    assert second.attributes == {"colour": "Hallarp beige"}  # an empty value is no attribute
    named = open_catalog(tmp_path / "c.csv", ColumnMap(text=("colour",)))
    assert named.text_columns == ("colour",)
    with pytest.raises(CatalogError, match="no column 'material'"):
        open_catalog(tmp_path / "c.csv", ColumnMap(text=("material",)))


def test_a_row_with_several_photos_gives_one_item_per_photo():
    import datasets

    photos = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    dataset = datasets.Dataset.from_dict(
        {"item_id": ["X"], "images": [photos], "item_name": ["Lamp"]},
        features=datasets.Features(
            {
                "item_id": datasets.Value("string"),
                "images": datasets.Sequence(datasets.Image()),
                "item_name": datasets.Value("string"),
            }
        ),
    )
    items = list(open_catalog(dataset, ColumnMap(image="images", name="item_name")))
    assert [(i.id, i.name) for i in items] == [("X", "Lamp"), ("X", "Lamp")]
    assert [i.image.getpixel((0, 0)) for i in items] == [(255, 0, 0), (0, 0, 255)]
