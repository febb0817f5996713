"""Index build -> load round trips, the encoder check, atomic rebuilds and damaged index directories."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from index.build import BuildError, build_index
from index.catalog import CatalogError, ColumnMap, open_catalog
from index.store import CatalogIndex, IndexCorruptError, IndexMismatchError, IndexNotFoundError, live_version
from search.encoder import load_encoder


def _build(source, encoder, out, **kw):
    return build_index(open_catalog(source, **kw), encoder, out, progress=False)


def test_local_csv_round_trip(color_catalog, tiny_clip, tmp_path):
    report = _build(color_catalog, tiny_clip, tmp_path / "idx")
    assert report.products == 6 and not report.skipped
    index = CatalogIndex.load(tmp_path / "idx", encoder=tiny_clip)
    assert len(index) == 6 and index.dim == 16
    first = index.products[0]
    assert (first.id, first.name, first.category, first.price, first.link) == (
        "P0", "Red thing", "chair", 10.5, "https://shop.example/red")
    assert os.path.isfile(first.image) and Image.open(first.image).size[0] <= 384
    manifest = index.manifest
    assert manifest["encoder"]["name"] == tiny_clip.name and manifest["encoder"]["dim"] == 16
    assert manifest["source"] == {"type": "local", "path": str(color_catalog.resolve())}
    assert manifest["products"] == 6 and manifest["currency"] == "USD" and "faiss-cpu" in manifest["versions"]
    # Each catalog photo finds itself first.
    photos = [Image.open(color_catalog.parent / "img" / f"{c}.png").convert("RGB") for c in ("red", "blue")]
    hits = index.search(tiny_clip.embed_images(photos), k=3)
    assert [h[0].product.id for h in hits] == ["P0", "P2"]
    assert hits[0][0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0][0].score >= hits[0][1].score >= hits[0][2].score


def test_explicit_columns_and_jsonl(tmp_path, tiny_clip):
    Image.new("RGB", (30, 30), (1, 2, 3)).save(tmp_path / "a.jpg")
    rows = [{"pic": "a.jpg", "ref": "X1", "label": "Lamp", "cost": "1,299", "page": "javascript:alert(1)"}]
    (tmp_path / "cat.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    columns = ColumnMap(image="pic", id="ref", name="label", price="cost", link="page")
    _build(tmp_path / "cat.jsonl", tiny_clip, tmp_path / "idx", columns=columns)
    product = CatalogIndex.load(tmp_path / "idx").products[0]
    assert (product.id, product.name, product.price) == ("X1", "Lamp", 1299.0)
    assert product.link is None  # only http(s) links reach the page


def test_datasets_dataset_and_saved_folder(tmp_path, tiny_clip):
    import datasets

    images = [Image.new("RGB", (24, 24), (i * 40, 0, 255 - i * 40)) for i in range(5)]
    dataset = datasets.Dataset.from_dict(
        {"photo": images, "title": [f"Item {i}" for i in range(5)], "price": [float(i) for i in range(5)]},
        features=datasets.Features({"photo": datasets.Image(), "title": datasets.Value("string"),
                                    "price": datasets.Value("float32")}),
    )
    _build(dataset, tiny_clip, tmp_path / "from-dataset")
    index = CatalogIndex.load(tmp_path / "from-dataset", encoder=tiny_clip)
    assert [p.name for p in index.products] == [f"Item {i}" for i in range(5)]
    assert [p.id for p in index.products] == ["0", "1", "2", "3", "4"]  # no id column: row numbers
    assert index.manifest["source"]["type"] == "dataset"

    # An image folder with a ClassLabel column: categories (and, lacking names, captions) read as words.
    labelled = datasets.Dataset.from_dict(
        {"image": images[:2], "label": [1, 0]},
        features=datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["sofa", "armchair"])}),
    )
    _build(labelled, tiny_clip, tmp_path / "labelled")
    products = CatalogIndex.load(tmp_path / "labelled").products
    assert [(p.name, p.category) for p in products] == [("armchair", "armchair"), ("sofa", "sofa")]

    datasets.DatasetDict({"train": dataset}).save_to_disk(tmp_path / "saved")
    _build(tmp_path / "saved", tiny_clip, tmp_path / "from-disk")
    again = CatalogIndex.load(tmp_path / "from-disk")
    assert again.manifest["source"]["type"] == "disk" and len(again) == 5
    np.testing.assert_allclose(again.vectors.reconstruct(3), index.vectors.reconstruct(3), atol=1e-5)


def test_unreadable_images_are_skipped_and_counted(color_catalog, tiny_clip, tmp_path):
    (color_catalog.parent / "img" / "green.png").write_bytes(b"garbage")
    (color_catalog.parent / "img" / "black.png").unlink()
    report = _build(color_catalog, tiny_clip, tmp_path / "idx")
    assert report.products == 4
    assert sorted(pid for pid, _ in report.skipped) == ["P1", "P4"]
    assert "skipped 2" in report.summary()
    index = CatalogIndex.load(tmp_path / "idx")
    assert index.manifest["skipped"] == 2 and "P1" not in {p.id for p in index.products}


def test_a_catalog_with_no_readable_image_writes_nothing(color_catalog, tiny_clip, tmp_path):
    for image in (color_catalog.parent / "img").iterdir():
        image.write_bytes(b"")
    with pytest.raises(BuildError, match="None of the 6 catalog images"):
        _build(color_catalog, tiny_clip, tmp_path / "idx")
    with pytest.raises(IndexNotFoundError):
        CatalogIndex.load(tmp_path / "idx")


@pytest.mark.parametrize("content, columns, message", [
    ("", ColumnMap(), "no rows"),
    ("name,price\nchair,3\n", ColumnMap(), "No image column"),
    ("image,name\na.jpg,chair\n", ColumnMap(name="title"), "no column 'title'"),
])
def test_bad_catalogs(tmp_path, content, columns, message):
    (tmp_path / "c.csv").write_text(content)
    with pytest.raises(CatalogError, match=message):
        open_catalog(tmp_path / "c.csv", columns)


def test_missing_catalog_file(tmp_path):
    with pytest.raises(CatalogError, match="No catalog file"):
        open_catalog(tmp_path / "nope.csv")


def test_another_encoder_is_refused(color_catalog, tiny_clip, tiny_vit_path, tmp_path):
    import torch
    from conftest import _save_tiny_clip

    _build(color_catalog, tiny_clip, tmp_path / "idx")
    vit = load_encoder(str(tiny_vit_path), device="cpu")
    with pytest.raises(IndexMismatchError, match="built with the encoder .*16-d.*24-d"):
        CatalogIndex.load(tmp_path / "idx", encoder=vit)
    # Same architecture and size, other weights: only the probe embedding can tell.
    torch.manual_seed(1)
    other = load_encoder(str(_save_tiny_clip(tmp_path / "other-clip")), device="cpu")
    with pytest.raises(IndexMismatchError, match="rebuild the index with --encoder"):
        CatalogIndex.load(tmp_path / "idx", encoder=other)


def test_rebuild_replaces_and_keeps_one_previous_version(color_catalog, tiny_clip, tmp_path):
    for _ in range(3):
        _build(color_catalog, tiny_clip, tmp_path / "idx")
    versions = sorted(p.name for p in (tmp_path / "idx").glob("v-*"))
    assert len(versions) == 2 and live_version(tmp_path / "idx").name == versions[-1]


def test_an_error_during_a_rebuild_leaves_the_old_index(color_catalog, tiny_clip, tmp_path):
    _build(color_catalog, tiny_clip, tmp_path / "idx")
    before = live_version(tmp_path / "idx")

    class Exploding:
        """An encoder whose second batch fails, as a crash half way through a build would."""
        def __init__(self, inner):
            self.inner, self.calls = inner, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def embed_images(self, images):
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("power cut")
            return self.inner.embed_images(images)

    with pytest.raises(RuntimeError, match="power cut"):
        build_index(open_catalog(color_catalog), Exploding(tiny_clip), tmp_path / "idx", batch_size=2, progress=False)
    assert live_version(tmp_path / "idx") == before
    assert len(CatalogIndex.load(tmp_path / "idx", encoder=tiny_clip)) == 6
    assert not list((tmp_path / "idx").glob(".building-*"))


def test_a_killed_build_leaves_the_old_index_loadable(color_catalog, tiny_clip, tiny_clip_path, tmp_path):
    out = tmp_path / "idx"
    _build(color_catalog, tiny_clip, out)
    before = live_version(out)
    big = tmp_path / "big"
    (big / "img").mkdir(parents=True)
    for i in range(800):
        Image.new("RGB", (16, 16), (i % 256, 0, 0)).save(big / "img" / f"{i}.png")
    (big / "catalog.csv").write_text("image\n" + "".join(f"img/{i}.png\n" for i in range(800)))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "index", "build", "--source", str(big / "catalog.csv"), "--out", str(out),
         "--encoder", str(tiny_clip_path), "--device", "cpu", "--batch-size", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        partial = list(out.glob(".building-*/images/*.jpg"))
        if len(partial) > 50:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the build finished (or failed) before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert live_version(out) == before
    assert len(CatalogIndex.load(out, encoder=tiny_clip)) == 6
    _build(big / "catalog.csv", tiny_clip, out)  # the next build succeeds despite the leftovers
    assert len(CatalogIndex.load(out)) == 800


@pytest.mark.parametrize("damage, error, message", [
    (lambda v: (v / "vectors.faiss").write_bytes(b"\x00" * 50), IndexCorruptError, "vectors"),
    (lambda v: (v / "vectors.faiss").unlink(), IndexCorruptError, "vectors"),
    (lambda v: (v / "products.jsonl").write_text("{not json\n"), IndexCorruptError, "product list"),
    (lambda v: (v / "products.jsonl").write_text('{"row": 0, "id": "x"}\n'), IndexCorruptError, "inconsistent"),
    (lambda v: (v / "manifest.json").write_text("{"), IndexCorruptError, "manifest.json"),
    (lambda v: (v / "manifest.json").unlink(), IndexCorruptError, "missing"),
    (lambda v: (v.parent / "CURRENT").write_text("v-gone\n"), IndexCorruptError, "missing version"),
    (lambda v: (v.parent / "CURRENT").write_text("../../etc\n"), IndexCorruptError, "missing version"),
    (lambda v: (v.parent / "CURRENT").unlink(), IndexNotFoundError, "No index at"),
])
def test_damaged_index_gives_a_clear_error(color_catalog, tiny_clip, tmp_path, damage, error, message):
    _build(color_catalog, tiny_clip, tmp_path / "idx")
    damage(live_version(tmp_path / "idx"))
    with pytest.raises(error, match=message):
        CatalogIndex.load(tmp_path / "idx")


def test_queries_of_the_wrong_size_are_refused(color_catalog, tiny_clip, tmp_path):
    _build(color_catalog, tiny_clip, tmp_path / "idx")
    index = CatalogIndex.load(tmp_path / "idx")
    with pytest.raises(IndexMismatchError, match="do not fit"):
        index.search(np.zeros((1, 8), np.float32), k=3)
    assert len(index.search(np.ones((1, 16), np.float32), k=50)[0]) == 6  # k > catalog: no padding rows
