"""The real YOLO11n and MobileNetV2 weights on real IKEA photos from ../shared (skipped, saying so, without it)."""

import csv

import pytest

from conftest import INTERIOR, MOBILENET, YOLO_WEIGHTS, needs_shared

pytestmark = needs_shared

# A bedroom whose sofa-bed, armchair and chairs are in plain view.
SCENE = "ikea-a-bed-that-folds-away-to-be-a-sofa-by-day__1364309472525-s4"


def _scene():
    with (INTERIOR / "scenes.csv").open() as f:
        return next(r for r in csv.DictReader(f) if r["scene_id"] == SCENE)


@pytest.fixture(scope="module")
def mobilenet():
    from search.encoder import load_encoder

    return load_encoder(str(MOBILENET), device="cpu")


@pytest.fixture(scope="module")
def yolo():
    from search.detector import load_detector

    return load_detector(YOLO_WEIGHTS)


def test_yolo_finds_the_bed_and_chairs_of_a_real_room(yolo):
    from search.images import load_image

    found = yolo.detect(load_image(INTERIOR / _scene()["image_path"]))
    labels = [d.label for d in found]
    assert "bed" in labels and labels.count("chair") >= 2
    bed = next(d for d in found if d.label == "bed")
    assert bed.score > 0.5
    x1, y1, x2, y2 = bed.box
    assert 0 <= x1 < x2 <= 1024 and 0 <= y1 < y2 <= 765 and (x2 - x1) > 200  # a bed-sized box in the photo


def test_catalog_photos_find_themselves_first(interior_index, mobilenet):
    from index.store import CatalogIndex
    from search.images import load_image

    index = CatalogIndex.load(interior_index, encoder=mobilenet)
    assert len(index) == 2190
    with (INTERIOR / "products.csv").open() as f:
        sample = list(csv.DictReader(f))[::73]  # 30 products spread over the catalog
    vectors = mobilenet.embed_images([load_image(INTERIOR / r["image_path"]) for r in sample])
    strict = 0
    for row, matches in zip(sample, index.search(vectors, k=5)):
        # A few catalog entries share one photo; those tie at the top score, and any of them is right.
        tied = {m.product.id for m in matches if m.score >= matches[0].score - 1e-4}
        assert row["product_id"] in tied, (row["product_id"], [(m.product.id, m.score) for m in matches])
        assert matches[0].score == pytest.approx(1.0, abs=1e-3)
        strict += matches[0].product.id == row["product_id"]
    assert strict >= len(sample) - 3


def test_a_real_scene_through_the_engine(interior_index, mobilenet, yolo):
    from index.store import CatalogIndex
    from search.engine import Engine

    engine = Engine(yolo, mobilenet, CatalogIndex.load(interior_index, encoder=mobilenet))
    scene = _scene()
    result = engine.search(INTERIOR / scene["image_path"], top_k=10)
    assert not result.whole_image and result.image_size == (1024, 765)
    assert {"bed", "chair"} <= {o.label for o in result.objects}
    catalog_ids = {p.id for p in engine.index.products}
    for obj in result.objects:
        assert 0 < obj.score <= 1 and len(obj.products) == 10
        assert all(m.product.id in catalog_ids and -1 <= m.score <= 1.0001 for m in obj.products)
        assert [m.score for m in obj.products] == sorted((m.score for m in obj.products), reverse=True)
    # The room's own armchair (RÅDVIKEN) is among what the engine returns.
    found = {m.product.id for o in result.objects for m in o.products}
    assert found & set(scene["product_ids"].split("|"))
