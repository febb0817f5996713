"""Embedding on Ray: a catalog's parquet files read and embedded on a local Ray (2 CPUs, started here), the
shards merged by the build into the index a build on one machine writes."""

import io
import os
import sys
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from index.builder.build import build_index
from index.builder.ray_embed import RayError, Shards, build_on_ray, embed_on_ray
from index.catalog.open import open_catalog
from index.catalog_index import CatalogIndex
from index.store.products import read_photos

try:
    import ray
except ImportError:
    ray = None
NO_RAY = "ray is not installed (pip install -r requirements-scale.txt)"


def needs_ray(test):
    """A local Ray's processes, and an actor loading torch for each job: about 40 s, outside the fast lane."""
    return pytest.mark.slow(pytest.mark.skipif(ray is None, reason=NO_RAY)(test))


class Counting:
    """The encoder, counting the photos it embeds here."""

    def __init__(self, inner):
        self.inner, self.embedded = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_prepared(self, prepared):
        self.embedded += len(prepared)
        return self.inner.embed_prepared(prepared)


def _photo(i: int, mode: str = "RGB", fmt: str = "PNG") -> bytes:
    """Product i's photo: a coloured block on a background of its own, of its own size."""
    photo = Image.new("RGB", (60 + 7 * i, 80 - 3 * i), (240 - 9 * i, 235, 220 + 2 * i))
    photo.paste(Image.new("RGB", (30, 30 + i), (20 * i % 256, 200 - 11 * i, 90 + 13 * i)), (10 + i, 12))
    buffer = io.BytesIO()
    photo.convert(mode).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def parquet_catalog(tmp_path_factory):
    """A folder laid out as a Hub dataset: two parquet files of 8 products each (row groups of 3), photos
    stored as PNG, JPEG and RGBA bytes; product P05's photo is not an image."""
    import datasets

    folder = tmp_path_factory.mktemp("parquet-catalog")
    (folder / "data").mkdir()
    rows = [
        {
            "sku": f"P{i:02d}",
            "title": f"Thing {i}",
            "category": ("chair", "sofa", "lamp")[i % 3],
            "image": {
                "bytes": b"not an image"
                if i == 5
                else _photo(i, "RGBA" if i % 4 == 1 else "RGB", "JPEG" if i % 3 == 2 else "PNG"),
                "path": None,
            },
        }
        for i in range(16)
    ]
    features = datasets.Features(
        {
            "sku": datasets.Value("string"),
            "title": datasets.Value("string"),
            "category": datasets.Value("string"),
            "image": datasets.Image(),
        }
    )
    for shard in range(2):
        datasets.Dataset.from_list(rows[8 * shard : 8 * shard + 8], features=features).to_parquet(
            folder / "data" / f"train-{shard:05d}-of-00002.parquet", batch_size=3
        )
    return folder


@pytest.fixture(scope="module")
def local_ray():
    if ray is None:
        pytest.skip(NO_RAY)
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def one_machine(parquet_catalog, tiny_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("one-machine")
    report = build_index(open_catalog(parquet_catalog), tiny_clip, out, progress=False)
    return report, CatalogIndex.load(out, encoder=tiny_clip)


def _same_index(a: CatalogIndex, b: CatalogIndex) -> None:
    assert [(p.id, p.name, p.category) for p in a.products] == [(p.id, p.name, p.category) for p in b.products]
    rows = np.arange(len(a), dtype=np.int64)
    np.testing.assert_allclose(a.vectors.sample(rows), b.vectors.sample(rows), atol=1e-5)
    for p, q in zip(a.products, b.products):
        assert Path(p.image).read_bytes() == Path(q.image).read_bytes(), p.id
    (digests_a, borders_a), (digests_b, borders_b) = read_photos(a.path, len(a)), read_photos(b.path, len(b))
    assert np.array_equal(digests_a, digests_b) and np.array_equal(borders_a, borders_b)
    assert a.manifest.background == b.manifest.background and a.manifest.probe == b.manifest.probe
    assert astuple(a.manifest.calibration) == pytest.approx(astuple(b.manifest.calibration), abs=1e-5)


@needs_ray
def test_a_build_on_ray_writes_the_index_a_build_on_one_machine_writes(
    local_ray, parquet_catalog, tiny_clip, one_machine, tmp_path
):
    encoder = Counting(tiny_clip)
    report = build_on_ray(open_catalog(parquet_catalog), encoder, tmp_path / "idx", address="local", progress=False)
    assert encoder.embedded == 0 and report.reused == report.products == 15
    assert [s[0] for s in report.skipped] == ["P05"] and [s[0] for s in one_machine[0].skipped] == ["P05"]
    _same_index(CatalogIndex.load(tmp_path / "idx", encoder=tiny_clip), one_machine[1])
    assert os.listdir(tmp_path / "idx" / "ray-shards") == []  # the run's shards are gone once merged


@needs_ray
def test_photos_a_lost_shard_held_are_embedded_here(local_ray, parquet_catalog, tiny_clip, one_machine, tmp_path):
    catalog = open_catalog(parquet_catalog)
    shards = embed_on_ray(catalog, tiny_clip, str(tmp_path / "shards"), shard_rows=4)
    assert len(shards.keys) == 15 and len(shards.files) >= 2
    lost = shards.files[0]
    os.remove(lost)
    encoder, left = Counting(tiny_clip), Shards(str(tmp_path / "shards"))
    report = build_index(catalog, encoder, tmp_path / "idx", progress=False, embedded=left)
    assert encoder.embedded == 15 - len(left.keys) > 0 and report.reused == len(left.keys)
    _same_index(CatalogIndex.load(tmp_path / "idx", encoder=tiny_clip), one_machine[1])


@needs_ray
def test_a_catalog_of_local_files_is_embedded_on_ray(local_ray, color_catalog, tiny_clip, tmp_path):
    encoder = Counting(tiny_clip)
    report = build_on_ray(open_catalog(color_catalog), encoder, tmp_path / "ray", address="local", progress=False)
    build_index(open_catalog(color_catalog), tiny_clip, tmp_path / "here", progress=False)
    assert encoder.embedded == 0 and report.reused == report.products == 6
    _same_index(*(CatalogIndex.load(tmp_path / name, encoder=tiny_clip) for name in ("ray", "here")))


def test_a_catalog_of_web_links_is_refused(tmp_path, tiny_clip):
    (tmp_path / "catalog.csv").write_text("id,image\nP0,https://shop.example/0.jpg\n")
    with pytest.raises(RayError, match="web links"):
        embed_on_ray(open_catalog(tmp_path / "catalog.csv"), tiny_clip, str(tmp_path / "shards"))


def test_without_ray_the_error_says_what_to_install(monkeypatch, color_catalog, tiny_clip, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails, as where it is not installed
    with pytest.raises(RayError, match=r"pip install -r requirements-scale.txt"):
        embed_on_ray(open_catalog(color_catalog), tiny_clip, str(tmp_path / "shards"))


@needs_ray
def test_workers_whose_encoder_is_not_the_builds_are_refused(
    local_ray, parquet_catalog, tiny_clip, tiny_vit_path, tmp_path
):
    elsewhere = Counting(tiny_clip)
    elsewhere.name = str(tiny_vit_path)  # what the workers load by name is another model than the one here
    with pytest.raises(RayError, match="is not the one the build uses"):
        embed_on_ray(open_catalog(parquet_catalog), elsewhere, str(tmp_path / "shards"))
