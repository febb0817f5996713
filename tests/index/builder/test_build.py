"""Building an index: every readable catalog image embedded, the rest counted, and nothing live changed on failure."""

import os

import numpy as np
import pytest
from PIL import Image

from core.boxes import centre_crop
from index.builder.build import BuildError, build_index
from index.catalog.open import open_catalog
from index.catalog_index import CatalogIndex
from index.errors import IndexNotFoundError
from index.store.versions import live_version


def _build(source, encoder, out, **kw):
    return build_index(open_catalog(source), encoder, out, progress=False, **kw)


def test_build_then_load_round_trip(color_catalog, tiny_clip, tmp_path):
    report = _build(color_catalog, tiny_clip, tmp_path / "idx")
    assert report.products == 6 and not report.skipped and report.path == live_version(tmp_path / "idx")
    index = CatalogIndex.load(tmp_path / "idx", encoder=tiny_clip)
    assert len(index) == 6 and index.dim == 16
    first = index.products[0]
    assert (first.row, first.id, first.name, first.category, first.price, first.link) == (
        0,
        "P0",
        "Red thing",
        "chair",
        10.5,
        "https://shop.example/red",
    )
    assert os.path.isfile(first.image) and Image.open(first.image).size[0] <= 384
    manifest = index.manifest
    assert manifest.encoder == tiny_clip.describe() and manifest.source.path == str(color_catalog.resolve())
    assert (manifest.products, manifest.skipped, manifest.currency) == (6, 0, "USD")
    assert "faiss-cpu" in manifest.versions and len(manifest.background) == 3
    # Each catalog photo finds itself first.
    photos = [Image.open(color_catalog.parent / "img" / f"{c}.png").convert("RGB") for c in ("red", "blue")]
    hits = index.search(tiny_clip.embed_images(photos), k=3)
    assert [h[0].product.id for h in hits] == ["P0", "P2"]
    assert hits[0][0].score == pytest.approx(1.0, abs=1e-4)


def test_an_approximate_index_records_its_recall_and_finds_as_the_exact_one(color_catalog, tiny_clip, tmp_path):
    _build(color_catalog, tiny_clip, tmp_path / "exact")
    _build(color_catalog, tiny_clip, tmp_path / "hnsw", vector_index="hnsw")
    exact, graph = (CatalogIndex.load(tmp_path / name, encoder=tiny_clip) for name in ("exact", "hnsw"))
    assert exact.manifest.vectors.backend == "faiss-flat-ip" and "recall_at_10" not in exact.manifest.vectors.params
    assert graph.manifest.vectors.backend == "faiss-hnsw" and graph.manifest.vectors.params["recall_at_10"] == 1.0
    photos = [Image.open(color_catalog.parent / "img" / f"{c}.png").convert("RGB") for c in ("red", "blue")]
    queries = tiny_clip.embed_images(photos)
    assert [[m.product.id for m in hits] for hits in graph.search(queries, k=4)] == [
        [m.product.id for m in hits] for hits in exact.search(queries, k=4)
    ]


def test_the_index_records_its_photos_background(tmp_path, tiny_clip):
    grey = (128, 128, 128)
    (tmp_path / "img").mkdir()
    for i, rgb in enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200)]):
        photo = Image.new("RGB", (60, 80), grey)
        photo.paste(Image.new("RGB", (30, 40), rgb), (15, 20))
        photo.save(tmp_path / "img" / f"{i}.png")
    (tmp_path / "catalog.csv").write_text("image\n" + "".join(f"img/{i}.png\n" for i in range(3)))
    _build(tmp_path / "catalog.csv", tiny_clip, tmp_path / "idx")
    assert CatalogIndex.load(tmp_path / "idx").manifest.background == grey


@pytest.mark.parametrize("share", [1.0, 0.79])
def test_the_encoder_is_given_each_photos_middle_share_and_its_thumbnail_stays_whole(share, tmp_path, tiny_clip):
    (tmp_path / "img").mkdir()
    photo = Image.new("RGB", (100, 100), (200, 30, 30))  # a red frame round a grey middle: cut below 0.9
    photo.paste(Image.new("RGB", (90, 90), (128, 128, 128)), (5, 5))
    photo.save(tmp_path / "img" / "0.png")
    (tmp_path / "catalog.csv").write_text("image\nimg/0.png\n")
    _build(tmp_path / "catalog.csv", tiny_clip, tmp_path / "idx", photo_share=share)
    index = CatalogIndex.load(tmp_path / "idx")
    [vector] = index.vectors.sample(np.arange(1))
    np.testing.assert_allclose(vector, tiny_clip.embed_images([centre_crop(photo, share)])[0], atol=1e-5)
    assert (float(vector @ tiny_clip.embed_images([photo])[0]) > 0.9999) == (share == 1)
    assert index.manifest.photo_share == share
    assert Image.open(index.products[0].image).size == (100, 100)


def test_a_dataset_builds_like_a_saved_folder(tmp_path, tiny_clip):
    import datasets

    images = [Image.new("RGB", (24, 24), (i * 40, 0, 255 - i * 40)) for i in range(5)]
    dataset = datasets.Dataset.from_dict({"photo": images}, features=datasets.Features({"photo": datasets.Image()}))
    _build(dataset, tiny_clip, tmp_path / "from-dataset", batch_size=2)
    datasets.DatasetDict({"train": dataset}).save_to_disk(tmp_path / "saved")
    _build(tmp_path / "saved", tiny_clip, tmp_path / "from-disk")
    one, two = CatalogIndex.load(tmp_path / "from-dataset"), CatalogIndex.load(tmp_path / "from-disk")
    probe = tiny_clip.embed_images(images[3:4])
    assert [m.product.row for m in one.search(probe, 5)[0]] == [m.product.row for m in two.search(probe, 5)[0]]
    assert one.search(probe, 1)[0][0].product.row == 3


def test_unreadable_images_are_skipped_and_counted(color_catalog, tiny_clip, tmp_path):
    (color_catalog.parent / "img" / "green.png").write_bytes(b"garbage")
    (color_catalog.parent / "img" / "black.png").unlink()
    report = _build(color_catalog, tiny_clip, tmp_path / "idx")
    assert report.products == 4
    assert sorted(pid for pid, _, _ in report.skipped) == ["P1", "P4"]
    assert report.reasons == {"unreadable image": 2} and "skipped 2 images (2 unreadable image;" in report.summary()
    index = CatalogIndex.load(tmp_path / "idx")
    assert index.manifest.skipped == 2 and [p.id for p in index.products] == ["P0", "P2", "P3", "P5"]
    assert [p.row for p in index.products] == [0, 1, 2, 3]  # rows are the index's own, without gaps


def test_a_catalog_with_no_readable_image_writes_nothing(color_catalog, tiny_clip, tmp_path):
    for image in (color_catalog.parent / "img").iterdir():
        image.write_bytes(b"")
    with pytest.raises(BuildError, match="None of the 6 catalog images"):
        _build(color_catalog, tiny_clip, tmp_path / "idx")
    with pytest.raises(IndexNotFoundError):
        CatalogIndex.load(tmp_path / "idx")


def test_an_error_during_a_rebuild_leaves_the_old_index(color_catalog, tiny_clip, tmp_path):
    _build(color_catalog, tiny_clip, tmp_path / "idx")
    before = live_version(tmp_path / "idx")

    class Exploding:
        """An encoder whose second batch fails, as a crash half way through a build would."""

        def __init__(self, inner):
            self.inner, self.calls = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def embed_prepared(self, prepared):
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("power cut")
            return self.inner.embed_prepared(prepared)

    with pytest.raises(RuntimeError, match="power cut"):
        _build(color_catalog, Exploding(tiny_clip), tmp_path / "idx", batch_size=2)
    assert live_version(tmp_path / "idx") == before
    assert len(CatalogIndex.load(tmp_path / "idx", encoder=tiny_clip)) == 6
    assert not list((tmp_path / "idx").glob(".building-*"))
    np.testing.assert_allclose(np.linalg.norm(tiny_clip.embed_images([Image.new("RGB", (8, 8))])), 1, rtol=1e-5)


def test_a_catalog_of_web_images_can_keep_its_thumbnails_as_links(tmp_path, tiny_clip):
    """With thumbnails="link" a web image's thumbnail is its link (nothing copied), and updates keep it so."""
    from index.builder.update import update_index
    from support import http_folder, write_csv

    (tmp_path / "site").mkdir()
    for i, colour in enumerate([(200, 30, 30), (30, 200, 30)]):
        Image.new("RGB", (40, 40), colour).save(tmp_path / "site" / f"{i}.png")
    with http_folder(tmp_path / "site") as base:
        rows = [{"id": f"P{i}", "image": f"{base}/{i}.png", "category": "chair"} for i in range(2)]
        catalog = write_csv(tmp_path / "feed.csv", rows)
        _build(catalog, tiny_clip, tmp_path / "idx", thumbnails="link")
        index = CatalogIndex.load(tmp_path / "idx")
        assert [p.image for p in index.products] == [f"{base}/0.png", f"{base}/1.png"]
        assert not list((index.path / "images").iterdir())
        write_csv(catalog, [*rows, {"id": "P2", "image": f"{base}/0.png", "category": "sofa"}])
        update_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False)
    updated = CatalogIndex.load(tmp_path / "idx")
    assert [p.image for p in updated.products] == [f"{base}/0.png", f"{base}/1.png", f"{base}/0.png"]
    assert not list((updated.path / "images").iterdir())
