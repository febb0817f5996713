"""What the API answers a first-time visitor, on the real pipeline over the ikea-hk shop (../shared;
skipped, saying so, without it): words count each, and a photo of nothing has no object in it.
Words leave the objects found as they are: tests/search/test_engine_real.py."""

import csv

import numpy as np
import pytest
from PIL import Image

from core.types import WHOLE_PHOTO, Product
from index.store.text import TextIndex
from support import HK, needs_shared

pytestmark = [needs_shared]


def test_grey_sofa_finds_grey_sofas_first_in_the_whole_hk_catalog():
    # 714 of its 1,380 products are sofas: plain BM25 gives "sofa" no weight, and grey tables led.
    with (HK / "products.csv").open(newline="", encoding="utf-8") as f:
        products = [Product(i, r["product_id"], r["name"], r["category"]) for i, r in enumerate(csv.DictReader(f))]
    assert sum("sofa" in p.name.lower() for p in products) > len(products) / 3
    rows, _ = TextIndex(products).search("grey sofa")
    first = [products[r] for r in rows[:10]]
    assert all("sofa" in p.name.lower() and "grey" in p.name.lower() for p in first), [p.name for p in first]


@pytest.mark.slow
@pytest.mark.parametrize(
    "photo",
    [
        Image.new("RGB", (640, 480), (128, 128, 128)),
        Image.new("RGB", (640, 480)),
        Image.fromarray(np.random.default_rng(0).normal(205, 6, (480, 640, 3)).clip(0, 255).astype(np.uint8)),
    ],
    ids=["grey", "black", "bare wall"],
)
def test_a_photo_of_nothing_has_no_object_and_nothing_close(hk_engine, photo):
    result = hk_engine.search(photo)
    assert [o.label for o in result.objects] == [WHOLE_PHOTO] and result.whole_image
    assert (
        result.objects[0].close_match is False and result.blank
    )  # "shows nothing to search", not "lower the confidence"
