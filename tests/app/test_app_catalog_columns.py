"""What a catalog's own columns add, through `gradio_client` against the app served in-process:
several photos per product (listed once) and a rating column (near-ties re-ranked when asked)."""

import csv

import numpy as np
import pytest
from gradio_client import Client, handle_file

from support import HK, MOBILENET, SHARED_MISSING, SHARED_REASON, YOLO_WEIGHTS, served, write_csv

pytestmark = [pytest.mark.slow, pytest.mark.skipif(SHARED_MISSING, reason=SHARED_REASON)]
POPULARITY_WEIGHT = 0.3  # large, so that the ratings visibly reorder the lists


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """12 ikea-hk sofas and 12 chairs sold as 12 products of two photos each, with ratings, served with
    the popularity blend on. Yields the client and the catalog's rows."""
    from core.settings import Settings
    from search.engine import load_engine

    with (HK / "products.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    picked = [r for r in rows if r["category"] == "sofas"][:12] + [r for r in rows if r["category"] == "chairs"][:12]
    catalog = [
        {
            "product_id": f"P{i // 2}",
            "name": f"Product {i // 2}",
            "category": r["category"],
            "price_hkd": r["price_hkd"],
            "rating": str(1 + (7 * i) % 5),
            "image_path": str(HK / r["image_path"]),
        }
        for i, r in enumerate(picked)
    ]
    folder = tmp_path_factory.mktemp("two-photo-shop")
    settings = Settings.of(
        detector=str(YOLO_WEIGHTS),
        encoder=str(MOBILENET),
        device="cpu",
        catalog=str(write_csv(folder / "products.csv", catalog)),
        index_dir=str(folder / "index"),
        popularity_weight=POPULARITY_WEIGHT,
        kind_weight=0.0,  # the popularity blend alone orders a region's list (the kinds' lean: tests/search)
        hub_views=0,  # nor any hubness (tests/index/builder/test_hubbed.py)
    )
    with served(load_engine(settings, build_index=True, progress=False)) as url:
        yield Client(url, verbose=False), catalog


def test_a_product_with_several_photos_is_listed_once(shop):
    client, catalog = shop
    photo = catalog[4]["image_path"]  # the first photo of P2
    _, _, result, _ = client.predict(image=handle_file(photo), top_k=6, box=[0, 0, 10**5, 10**5], api_name="/search")
    [obj] = result["objects"]
    ids = [p["id"] for p in obj["products"]]
    assert len(ids) == 6 == len(set(ids))  # six products from twelve photos a row each could fill
    assert "P2" in ids[:3]
    _, text = client.predict(words="sofas", top_k=10, api_name="/search_text")
    assert sorted(p["id"] for p in text["products"]) == [f"P{i}" for i in range(6)]  # 12 sofa photos, 6 products


def test_ratings_reorder_near_ties_by_the_blend(shop):
    client, catalog = shop
    ratings = np.sort([float(r["rating"]) for r in catalog])
    reordered = 0
    for row in catalog[::5]:
        _, _, result, _ = client.predict(
            image=handle_file(row["image_path"]), top_k=8, box=[0, 0, 10**5, 10**5], api_name="/search"
        )
        products = result["objects"][0]["products"]
        keys = [
            p["score"] + POPULARITY_WEIGHT * np.searchsorted(ratings, p["popularity"], side="right") / len(ratings)
            for p in products
        ]
        assert keys == sorted(keys, reverse=True)  # ordered by similarity plus the weighted popularity percentile
        scores = [p["score"] for p in products]
        reordered += scores != sorted(scores, reverse=True)
    assert reordered  # the ratings changed some order: similarity alone would not give these lists
