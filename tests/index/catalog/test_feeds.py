"""Catalogs as shops keep them: product feeds (Merchant Center, Shopify) whose images are links, built
end to end with the images served by a local HTTP server; and the cap on the products taken."""

import csv

import pytest
from PIL import Image

from index.builder.build import build_index
from index.catalog.fetch import ImageFetcher
from index.catalog.image_reader import ImageReader
from index.catalog.open import open_catalog
from index.catalog.selection import spread
from index.catalog.source import ColumnMap, Reading
from index.catalog_index import CatalogIndex
from support import http_folder

COLOURS = {"sofa": (200, 40, 40), "sofa-back": (190, 60, 60), "chair": (40, 200, 40), "lamp": (40, 40, 200)}


@pytest.fixture
def site(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    for name, colour in COLOURS.items():
        Image.new("RGB", (48, 48), colour).save(folder / f"{name}.jpg")
    (folder / "notes.txt").write_text("not an image")
    with http_folder(folder) as base:
        yield base


def write_feed(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def merchant_feed(path, base):
    """A Google Merchant Center feed, as a shop exports it."""
    return write_feed(
        path,
        [
            "id",
            "title",
            "description",
            "link",
            "image_link",
            "additional_image_link",
            "price",
            "product_type",
            "google_product_category",
        ],
        [
            [
                "S1",
                "Velvet sofa",
                "A deep three-seat sofa in red velvet",
                "https://shop.example/s1",
                f"{base}/sofa.jpg",
                f"{base}/sofa-back.jpg",
                "499.00 USD",
                "Home > Furniture > Sofas",
                "Furniture > Sofas",
            ],
            [
                "C1",
                "Oak chair",
                "A dining chair of solid oak",
                "https://shop.example/c1",
                f"{base}/chair.jpg",
                "",
                "89.50 USD",
                "Home > Furniture > Chairs",
                "Furniture > Chairs",
            ],
            [
                "L1",
                "Table lamp",
                "A blue ceramic lamp",
                "https://shop.example/l1",
                f"{base}/lamp.jpg",
                "",
                "1,299.00 USD",
                "Home > Lighting > Lamps",
                "Lighting",
            ],
            [
                "G1",
                "Gone",
                "Its photo was taken down",
                "https://shop.example/g1",
                f"{base}/gone.jpg",
                "",
                "5.00 USD",
                "Home > Decor",
                "Decor",
            ],
            [
                "N1",
                "Notes",
                "Its image link is a text file",
                "https://shop.example/n1",
                f"{base}/notes.txt",
                "",
                "5.00 EUR",
                "Home > Decor",
                "Decor",
            ],
        ],
    )


def reader(tmp_path) -> ImageReader:
    return ImageReader(ImageFetcher(tmp_path / "image-cache", backoff=0.01))


def test_a_merchant_feed_is_read_with_no_flags(site, tmp_path):
    catalog = open_catalog(merchant_feed(tmp_path / "feed.csv", site))
    assert {k: v for k, v in catalog.columns.items() if v} == {
        "image": "image_link",
        "id": "id",
        "name": "title",
        "category": "product_type",
        "price": "price",
        "link": "link",
        "more_images": "additional_image_link",
    }
    assert catalog.currency == "USD" and "description" in catalog.text_columns
    items = list(catalog)
    assert [(i.id, i.image) for i in items[:2]] == [("S1", f"{site}/sofa.jpg"), ("S1", f"{site}/sofa-back.jpg")]
    assert [i.price for i in items] == [499.0, 499.0, 89.5, 1299.0, 5.0, "5.00 EUR"]  # another currency: text


def test_a_feed_whose_images_are_links_builds_and_reports_what_failed(site, tmp_path, tiny_clip):
    catalog = open_catalog(merchant_feed(tmp_path / "feed.csv", site))
    with reader(tmp_path) as images:
        report = build_index(catalog, tiny_clip, tmp_path / "index", progress=False, images=images)
        assert images.fetcher.stats["fetched"] == 4
    assert report.products == 4 and report.reasons == {"HTTP 404": 1, "not an image": 1}
    assert "2 images (1 HTTP 404, 1 not an image" in report.summary()
    index = CatalogIndex.load(tmp_path / "index", tiny_clip)
    assert [p.id for p in index.products] == ["S1", "S1", "C1", "L1"] and index.manifest.currency == "USD"
    match = index.search(tiny_clip.embed_images([Image.new("RGB", (48, 48), COLOURS["sofa-back"])]), 1)[0][0]
    assert match.product.id == "S1"  # found by its second photo

    with reader(tmp_path) as again:  # a rebuild fetches nothing twice: the cache, keyed by link
        build_index(catalog, tiny_clip, tmp_path / "index", progress=False, images=again)
        assert (again.fetcher.stats["fetched"], again.fetcher.stats["cached"]) == (0, 4)


def test_a_shopify_export_takes_each_product_once_with_all_its_photos(site, tmp_path, tiny_clip):
    export = write_feed(
        tmp_path / "products_export.csv",
        ["Handle", "Title", "Body (HTML)", "Type", "Variant Price", "Image Src", "Image Position"],
        [
            ["velvet-sofa", "Velvet sofa", "<p>Deep</p>", "Sofa", "499.00", f"{site}/sofa.jpg", "1"],
            ["velvet-sofa", "", "", "", "", f"{site}/sofa-back.jpg", "2"],
            ["oak-chair", "Oak chair", "<p>Oak</p>", "Chair", "89.50", f"{site}/chair.jpg", "1"],
        ],
    )
    items = list(open_catalog(export))
    assert [(i.id, i.name, i.category, i.price) for i in items] == [
        ("velvet-sofa", "Velvet sofa", "Sofa", 499.0),
        ("velvet-sofa", "Velvet sofa", "Sofa", 499.0),
        ("oak-chair", "Oak chair", "Chair", 89.5),
    ]


@pytest.mark.parametrize(
    "categories, limit, chosen",
    [
        (["a", "a", "a", "b", "b", "c"], 3, ["a", "b", "c"]),  # one of each type, not the first three rows
        (["a", "a", "a", "a", "b", "c"], 5, ["a", "a", "a", "b", "c"]),  # a type with fewer gives its share
        (["a", "b"], 0, ["a", "b"]),  # no cap
        (["a", "b"], 5, ["a", "b"]),  # a cap above the catalog
    ],
)
def test_the_cap_spreads_over_the_types(categories, limit, chosen):
    picked = spread(categories, [str(i) for i in range(len(categories))], limit)
    assert sorted(categories[i] for i in picked) == chosen and picked == sorted(picked)


def test_a_capped_feed_takes_the_same_products_whatever_their_order(tmp_path):
    rows = [[f"P{i}", f"Item {i}", f"{i}.jpg", ["Sofas", "Chairs", "Lamps"][i % 3]] for i in range(30)]
    one = write_feed(tmp_path / "one.csv", ["id", "title", "image", "product_type"], rows)
    two = write_feed(tmp_path / "two.csv", ["id", "title", "image", "product_type"], rows[::-1])
    taken = [{i.id for i in open_catalog(path, ColumnMap(), Reading(limit=6))} for path in (one, two)]
    assert taken[0] == taken[1] and len(taken[0]) == 6
    assert open_catalog(one, ColumnMap(), Reading(limit=6)).source.limit == 6
    assert open_catalog(one, ColumnMap(), Reading(name="My shop")).source.title == "My shop"
    assert open_catalog(one).source.title == "one.csv"  # no name given: the file's
    categories = [int(pid[1:]) % 3 for pid in taken[0]]
    assert sorted(categories) == [0, 0, 1, 1, 2, 2]


def test_a_capped_build_replaces_a_product_whose_image_fails_with_the_next_the_cap_takes(tmp_path, tiny_clip):
    """41 products of a feed, one image link dead: `--limit 30` indexes 30, the dead one's place taken by the
    row the cap would take next, and the same 30 on every run."""
    (tmp_path / "img").mkdir()
    rows = []
    for i in range(41):
        Image.new("RGB", (24, 24), (6 * i, 255 - 6 * i, 128)).save(tmp_path / "img" / f"{i}.png")
        rows.append([f"P{i:02d}", f"Thing {i}", ("chair", "sofa", "lamp")[i % 3]])
    with http_folder(tmp_path / "img") as base:
        feed = write_feed(
            tmp_path / "feed.csv",
            ["id", "title", "product_type", "image_link"],
            [[*row, f"{base}/{i}.png"] for i, row in enumerate(rows)],
        )
        catalog = open_catalog(feed, reading=Reading(limit=30))
        taken = {item.id for item in catalog}
        dead = sorted(taken)[0]
        (tmp_path / "img" / f"{int(dead[1:])}.png").unlink()  # the link of a product the cap takes answers 404
        fetcher = ImageFetcher(None, retries=0)
        report = build_index(catalog, tiny_clip, tmp_path / "idx", progress=False, images=ImageReader(fetcher))
        again = build_index(catalog, tiny_clip, tmp_path / "again", progress=False, images=ImageReader(fetcher))
    indexed = {p.id for p in CatalogIndex.load(tmp_path / "idx").products}
    assert report.products == len(indexed) == 30 and [s[:2] for s in report.skipped] == [(dead, "HTTP 404")]
    [newcomer] = indexed - taken
    assert indexed == taken - {dead} | {newcomer}
    assert {p.id for p in CatalogIndex.load(tmp_path / "again").products} == indexed == set(again.ids)
    assert [i.id for i in next(open_catalog(feed, reading=Reading(limit=30)).spares())] == [newcomer]


def test_a_capped_build_indexes_what_there_is_when_too_few_images_can_be_read(tmp_path, tiny_clip):
    for i in range(4):
        Image.new("RGB", (24, 24), (60 * i, 0, 0)).save(tmp_path / f"{i}.png")
    feed = write_feed(tmp_path / "feed.csv", ["id", "image"], [[f"P{i}", f"{i}.png"] for i in range(6)])  # 4, 5: none
    report = build_index(open_catalog(feed, reading=Reading(limit=5)), tiny_clip, tmp_path / "idx", progress=False)
    assert report.products == 4 and len(report.skipped) == 2
