"""Updating an index: new products embedded, removed ones dropped, a photo embedded again only when its
content changed, the rest taken over as it was; atomically, like a build."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from core.boxes import centre_crop
from index.__main__ import main
from index.builder.build import build_index
from index.builder.update import update_index
from index.catalog.open import open_catalog
from index.catalog_index import CatalogIndex
from index.store.manifest import Manifest, sha256
from index.store.products import PHOTOS
from index.store.versions import live_version
from support import http_folder, write_csv

COLOURS = {"P0": (220, 30, 30), "P1": (30, 200, 40), "P2": (30, 40, 220), "P3": (240, 230, 20), "P4": (10, 10, 10)}


class Counting:
    """The encoder, counting the photos it embeds; from `fail_after` photos on, it fails as a killed run would."""

    def __init__(self, inner, fail_after: int | None = None):
        self.inner, self.embedded, self.fail_after = inner, 0, fail_after

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_prepared(self, prepared):
        vectors = self.inner.embed_prepared(prepared)
        if self.fail_after is not None and self.embedded + len(vectors) > self.fail_after:
            raise RuntimeError("power cut")
        self.embedded += len(vectors)
        return vectors


def _shop(folder, colours: dict, prices: dict | None = None, image=lambda pid: f"img/{pid}.png"):
    (folder / "img").mkdir(parents=True, exist_ok=True)
    for pid, colour in colours.items():
        Image.new("RGB", (48, 40), colour).save(folder / "img" / f"{pid}.png")
    return write_csv(
        folder / "catalog.csv",
        [
            {"id": pid, "image": image(pid), "category": "chair", "price": (prices or {}).get(pid, 10)}
            for pid in colours
        ],
    )


def _vectors(index: CatalogIndex) -> dict[str, np.ndarray]:
    return {p.id: v for p, v in zip(index.products, index.vectors.sample(np.arange(len(index))))}


def test_only_new_and_changed_photos_are_embedded_and_the_result_is_a_fresh_builds(tmp_path, tiny_clip):
    catalog = _shop(tmp_path / "shop", COLOURS)
    build_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False)
    before = CatalogIndex.load(tmp_path / "idx")
    # P1 removed, P2's photo changed, P3's price changed, P5 new.
    changed = {**{k: v for k, v in COLOURS.items() if k != "P1"}, "P2": (200, 40, 200), "P5": (250, 250, 250)}
    catalog = _shop(tmp_path / "shop", changed, prices={"P3": 99})
    counting = Counting(tiny_clip)

    report = update_index(open_catalog(catalog), counting, tmp_path / "idx", progress=False)

    assert counting.embedded == 2  # P2 and P5
    assert (report.added, report.removed, report.build.reused, report.build.products) == (1, 1, 3, 5)
    assert "(1 added, 1 removed); 3 photos kept, 2 embedded" in report.summary()
    after = CatalogIndex.load(tmp_path / "idx", tiny_clip)
    assert after.path == report.build.path == live_version(tmp_path / "idx") != before.path
    assert [p.id for p in after.products] == ["P0", "P2", "P3", "P4", "P5"]
    assert {p.id: p.price for p in after.products}["P3"] == 99
    old, new = _vectors(before), _vectors(after)
    for pid in ("P0", "P3", "P4"):
        np.testing.assert_array_equal(new[pid], old[pid])
    # What a fresh build of the changed catalog holds, row by row.
    build_index(open_catalog(catalog), tiny_clip, tmp_path / "fresh", progress=False)
    fresh = CatalogIndex.load(tmp_path / "fresh")
    assert [p.id for p in fresh.products] == [p.id for p in after.products]
    for pid, vector in _vectors(fresh).items():
        np.testing.assert_allclose(new[pid], vector, atol=1e-5)
    ours, theirs = after.manifest.calibration, fresh.manifest.calibration
    assert (ours.unrelated, ours.near) == pytest.approx((theirs.unrelated, theirs.near), abs=1e-5)
    assert after.manifest.background == fresh.manifest.background
    hits = after.search(tiny_clip.embed_images([Image.new("RGB", (48, 40), (200, 40, 200))]), k=1)
    assert hits[0][0].product.id == "P2"
    # Kept photos' thumbnails are the earlier version's files, not copies.
    kept = {p.id: p for p in before.products}["P0"]
    assert os.path.samefile(kept.image, {p.id: p for p in after.products}["P0"].image)


def test_an_unchanged_catalog_writes_no_version(tmp_path, tiny_clip):
    catalog = _shop(tmp_path / "shop", COLOURS)
    build_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False)
    live = live_version(tmp_path / "idx")
    counting = Counting(tiny_clip)
    report = update_index(open_catalog(catalog), counting, tmp_path / "idx", progress=False)
    assert counting.embedded == 0 and not report.build.changed
    assert live_version(tmp_path / "idx") == live and "up to date: 5 products" in report.summary()
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == ["CURRENT", live.name]


def test_a_killed_update_leaves_the_live_index_as_it_was(tmp_path, tiny_clip):
    catalog = _shop(tmp_path / "shop", COLOURS)
    build_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False)
    live = live_version(tmp_path / "idx")
    catalog = _shop(tmp_path / "shop", {**COLOURS, "P5": (1, 2, 3), "P6": (4, 5, 6), "P7": (7, 8, 9)})
    with pytest.raises(RuntimeError, match="power cut"):
        update_index(
            open_catalog(catalog), Counting(tiny_clip, fail_after=1), tmp_path / "idx", progress=False, batch_size=2
        )
    assert live_version(tmp_path / "idx") == live
    assert len(CatalogIndex.load(tmp_path / "idx", tiny_clip)) == 5
    assert not list((tmp_path / "idx").glob(".building-*"))


def test_a_photo_changed_at_its_web_link_is_fetched_anew_and_embedded_again(tmp_path, tiny_clip):
    shop = tmp_path / "shop"
    (shop / "img").mkdir(parents=True)
    with http_folder(shop / "img") as base:
        catalog = _shop(shop, COLOURS, image=lambda pid: f"{base}/{pid}.png")
        build_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False)
        Image.new("RGB", (48, 40), (200, 40, 200)).save(shop / "img" / "P2.png")  # same link, new photo
        counting = Counting(tiny_clip)
        report = update_index(open_catalog(catalog), counting, tmp_path / "idx", progress=False)
    assert counting.embedded == 1 and report.build.reused == 4
    after = CatalogIndex.load(tmp_path / "idx")
    hits = after.search(tiny_clip.embed_images([Image.new("RGB", (48, 40), (200, 40, 200))]), k=1)
    assert hits[0][0].product.id == "P2"


def test_an_index_without_digests_is_embedded_again_whole(tmp_path, tiny_clip, caplog):
    """An index built before digests were kept: every photo is embedded again, and the update says so."""
    catalog = _shop(tmp_path / "shop", COLOURS)
    build_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False)
    version = live_version(tmp_path / "idx")
    (version / PHOTOS).unlink()
    manifest = json.loads((version / "manifest.json").read_text())
    del manifest["checksums"][PHOTOS]
    text = json.dumps(manifest).encode()
    (version / "manifest.json").write_bytes(text)
    (tmp_path / "idx" / "CURRENT").write_text(f"{version.name}\n{sha256(text)}\n")
    Manifest.read(version / "manifest.json", sha256(text))
    counting = Counting(tiny_clip)
    report = update_index(open_catalog(catalog), counting, tmp_path / "idx", progress=False)
    assert counting.embedded == 5 and report.build.reused == 0 and report.build.changed
    assert "every photo is embedded again" in caplog.text
    assert (live_version(tmp_path / "idx") / PHOTOS).is_file()  # the next update will know them


def test_new_photos_are_framed_as_the_index_framed_its_own(tmp_path, tiny_clip):
    """An index built with `photo_share` below 1 embeds the photos an update adds at the same share."""
    catalog = _shop(tmp_path / "shop", COLOURS)
    build_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False, photo_share=0.79)
    framed = Image.new("RGB", (48, 40), (200, 30, 30))  # a red frame round a grey middle
    framed.paste(Image.new("RGB", (40, 32), (128, 128, 128)), (4, 4))
    framed.save(tmp_path / "shop" / "img" / "P5.png")
    write_csv(
        catalog,
        [{"id": pid, "image": f"img/{pid}.png", "category": "chair", "price": 10} for pid in [*COLOURS, "P5"]],
    )
    report = update_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False)
    index = CatalogIndex.load(tmp_path / "idx")
    assert report.build.reused == 5 and index.manifest.photo_share == 0.79
    np.testing.assert_allclose(_vectors(index)["P5"], tiny_clip.embed_images([centre_crop(framed, 0.79)])[0], atol=1e-5)


def test_the_command_reads_the_catalog_the_index_was_built_from(tmp_path, tiny_clip_path, capsys):
    catalog = _shop(tmp_path / "shop", COLOURS)
    out = str(tmp_path / "idx")
    assert (
        main(["build", "--source", str(catalog), "--out", out, "--encoder", str(tiny_clip_path), "--device", "cpu"])
        == 0
    )
    _shop(tmp_path / "shop", {**COLOURS, "P5": (250, 250, 250)})
    assert main(["update", "--index", out, "--device", "cpu"]) == 0
    assert "(1 added, 0 removed); 5 photos kept, 1 embedded" in capsys.readouterr().out
    assert main(["update", "--index", out, "--device", "cpu"]) == 0
    assert "is up to date: 6 products" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--index", "{tmp}/none"], "No index at"),
        (["--index", "{tmp}/idx", "--source", "{tmp}/none.csv"], "No catalog file"),
        (["--index", "hf://datasets/someone/shop"], "not updated in place"),
    ],
)
def test_update_errors_are_one_line_and_exit_2(args, message, tmp_path, tiny_clip, capsys):
    build_index(open_catalog(_shop(tmp_path / "shop", COLOURS)), tiny_clip, tmp_path / "idx", progress=False)
    assert main(["update", *[a.format(tmp=tmp_path) for a in args]]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error


def test_other_kind_rules_are_refused(tmp_path, tiny_clip, capsys, monkeypatch):
    build_index(open_catalog(_shop(tmp_path / "shop", COLOURS)), tiny_clip, tmp_path / "idx", progress=False)
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"chair": ["chair", "stool"]}))
    monkeypatch.setenv("LOOKALIKE_KIND_RULES", str(rules))
    assert main(["update", "--index", str(tmp_path / "idx")]) == 2
    assert "other kind rules" in capsys.readouterr().err


def test_an_adapted_index_stays_adapted_and_its_new_photos_are_mapped_alike(tmp_path, tiny_clip):
    from index.builder.adapted import write_adapted
    from index.store.manifest import AdaptationInfo
    from models.adaptation import Adaptation

    catalog = _shop(tmp_path / "shop", COLOURS)
    build_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False)
    index = CatalogIndex.load(tmp_path / "idx")
    rng = np.random.default_rng(0)
    adaptation = Adaptation(
        rng.normal(size=tiny_clip.dim).astype(np.float32) * 0.1,
        (np.eye(tiny_clip.dim) + rng.normal(size=(tiny_clip.dim,) * 2) * 0.3).astype(np.float32),
    )
    info = AdaptationInfo(tiny_clip.describe(), index.manifest.probe, "linear-infonce", "2026-12-06T00:00:00+00:00")
    write_adapted(index, adaptation, info)
    adapted = CatalogIndex.load(tmp_path / "idx", tiny_clip)
    catalog = _shop(tmp_path / "shop", {**COLOURS, "P5": (250, 250, 250)})
    counting = Counting(tiny_clip)

    report = update_index(open_catalog(catalog), counting, tmp_path / "idx", progress=False)

    assert counting.embedded == 1 and report.build.reused == 5
    after = CatalogIndex.load(tmp_path / "idx", tiny_clip)
    assert after.manifest.adaptation == info and after.adaptation is not None
    np.testing.assert_array_equal(after.adaptation.matrix, adaptation.matrix)
    new = _vectors(after)
    for pid, vector in _vectors(adapted).items():
        np.testing.assert_array_equal(new[pid], vector)
    photo = Image.open(tmp_path / "shop" / "img" / "P5.png").convert("RGB")
    np.testing.assert_allclose(new["P5"], adaptation.apply(tiny_clip.embed_images([photo]))[0], atol=1e-5)


def test_an_index_in_milvus_is_updated_in_milvus(tmp_path, tiny_clip):
    pytest.importorskip("pymilvus", reason="pymilvus is not installed (pip install -r requirements-scale.txt)")
    catalog = _shop(tmp_path / "shop", COLOURS)
    build_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False, vector_index="milvus")
    before = CatalogIndex.load(tmp_path / "idx")
    catalog = _shop(tmp_path / "shop", {**COLOURS, "P5": (250, 250, 250)})
    counting = Counting(tiny_clip)
    report = update_index(open_catalog(catalog), counting, tmp_path / "idx", progress=False)
    assert counting.embedded == 1 and report.build.reused == 5
    after = CatalogIndex.load(tmp_path / "idx", tiny_clip)
    assert after.manifest.vectors.backend == "milvus"
    assert after.manifest.vectors.params["collection"] != before.manifest.vectors.params["collection"]
    hits = after.search(tiny_clip.embed_images([Image.new("RGB", (48, 40), (250, 250, 250))]), k=1)
    assert hits[0][0].product.id == "P5"


def test_an_approximate_index_is_updated_as_one(tmp_path, tiny_clip):
    """Kept and new photos reach the HNSW graph out of row order; the graph's ids are still the rows."""
    catalog = _shop(tmp_path / "shop", COLOURS)
    build_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False, vector_index="hnsw")
    catalog = _shop(tmp_path / "shop", {"P9": (9, 99, 199), **COLOURS, "P2": (200, 40, 200)})
    update_index(open_catalog(catalog), tiny_clip, tmp_path / "idx", progress=False, batch_size=2)
    after = CatalogIndex.load(tmp_path / "idx", tiny_clip)
    assert after.manifest.vectors.backend == "faiss-hnsw" and next(p.id for p in after.products) == "P9"
    photos = [Image.open(tmp_path / "shop" / "img" / f"{p.id}.png").convert("RGB") for p in after.products]
    hits = after.search(tiny_clip.embed_images(photos), k=1)
    assert [h[0].product.id for h in hits] == [p.id for p in after.products]
