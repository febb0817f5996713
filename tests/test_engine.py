"""The one search call, through tiny real models, and the command-line entries around it."""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

import pytest
from PIL import Image

from conftest import ROOT
from index.build import build_index
from index.catalog import open_catalog
from index.store import CatalogIndex
from search.detector import load_detector
from search.engine import WHOLE_PHOTO, Engine
from search.images import ImageError
from search.settings import Settings


@pytest.fixture
def engine(color_catalog, tiny_clip, tiny_yolo_path, tmp_path):
    build_index(open_catalog(color_catalog), tiny_clip, tmp_path / "idx", progress=False)
    index = CatalogIndex.load(tmp_path / "idx", encoder=tiny_clip)
    return Engine(load_detector(tiny_yolo_path), tiny_clip, index)


def test_nothing_detected_means_the_whole_photo_is_the_query(engine, color_catalog):
    photo = color_catalog.parent / "img" / "blue.png"
    result = engine.search(photo, top_k=3)
    assert result.whole_image
    [obj] = result.objects
    assert obj.label == WHOLE_PHOTO and obj.score is None and obj.box == (0, 0, *Image.open(photo).size)
    assert len(obj.products) == 3
    assert obj.products[0].product.id == "P2" and obj.products[0].score == pytest.approx(1.0, abs=1e-4)
    assert set(result.timings_ms) == {"detect", "embed", "search"}


def test_result_serialises_to_the_documented_json(engine, color_catalog):
    data = json.loads(json.dumps(engine.search(color_catalog.parent / "img" / "red.png", top_k=2).to_dict()))
    assert data["whole_image"] is True and data["image_size"] == [40, 60]
    [obj] = data["objects"]
    assert set(obj) == {"label", "box", "score", "products"}
    product = obj["products"][0]
    assert {"id", "name", "category", "price", "link", "image", "score"} <= set(product)
    assert (product["id"], product["name"], product["price"], product["link"]) == (
        "P0", "Red thing", 10.5, "https://shop.example/red")


def test_without_a_detector_the_whole_photo_is_searched(engine):
    plain = Engine(None, engine.encoder, engine.index)
    assert plain.search(Image.new("RGB", (30, 30), "white"), top_k=1).whole_image


def test_bad_photos_raise_image_error(engine):
    # ultralytics is imported by now; its patched Image.open must not change the error.
    with pytest.raises(ImageError, match="not an image"):
        engine.search(b"not an image")


def test_concurrent_searches_agree(engine, color_catalog):
    photos = [color_catalog.parent / "img" / f"{c}.png" for c in ("red", "green", "blue", "black")] * 3
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: engine.search(p, top_k=1).objects[0].products[0].product.id, photos))
    assert results == ["P0", "P1", "P2", "P4"] * 3


def test_settings_precedence():
    env = {"LOOKALIKE_TOP_K": "7", "LOOKALIKE_CONF": "0.4", "LOOKALIKE_INDEX_DIR": "/srv/idx",
           "LOOKALIKE_DETECTOR": "/w/yolo.pt"}
    settings = Settings.from_env(env, conf=0.1, detector=None)
    assert (settings.top_k, settings.conf, settings.index_dir, settings.detector) == (7, 0.1, "/srv/idx", "/w/yolo.pt")
    assert Settings.from_env({}).index_dir.endswith(os.path.join("lookalike", "index"))
    assert Settings(classes="all").class_list is None and Settings(classes="chair, bed").class_list == ("chair", "bed")
    with pytest.raises(ValueError, match="LOOKALIKE_TOP_K"):
        Settings.from_env({"LOOKALIKE_TOP_K": "many"})


def test_bool_settings_read_words_and_refuse_others():
    assert Settings.from_env({"LOOKALIKE_GROUP_OBJECTS": "false", "LOOKALIKE_DETECT_MIRRORED": "0"}).group_objects is False
    assert Settings.from_env({"LOOKALIKE_DETECT_MIRRORED": "Yes"}).detect_mirrored is True
    with pytest.raises(ValueError, match="LOOKALIKE_GROUP_OBJECTS"):
        Settings.from_env({"LOOKALIKE_GROUP_OBJECTS": "maybe"})


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(Settings) if f"LOOKALIKE_{f.name.upper()}" not in readme]
    assert not missing, missing


def _run(*args, env=None):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300)


def test_cli_build_then_search(color_catalog, tiny_clip_path, tiny_yolo_path, tmp_path):
    out = tmp_path / "cli-idx"
    build = _run("index", "build", "--source", str(color_catalog), "--out", str(out), "--encoder", str(tiny_clip_path))
    assert build.returncode == 0, build.stderr
    assert "Indexed 6 products" in build.stdout and "Indexing catalog" in build.stderr  # the progress bar

    # The encoder defaults to the index's own; the index directory comes from the environment.
    found = _run("search", str(color_catalog.parent / "img" / "green.png"), "--detector", str(tiny_yolo_path),
                 "--top-k", "2", env={"LOOKALIKE_INDEX_DIR": str(out)})
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    [obj] = data["objects"]
    assert obj["label"] == WHOLE_PHOTO and len(obj["box"]) == 4 and "score" in obj
    assert [p["id"] for p in obj["products"]][0] == "P1" and all("score" in p for p in obj["products"])


@pytest.mark.parametrize("args, message", [
    (["search", "/no/photo.jpg", "--index", "{idx}"], "No image file"),
    (["search", "{photo}", "--index", "{tmp}/empty"], "No index at"),
    (["index", "build", "--source", "{tmp}/none.csv", "--out", "{tmp}/x"], "No catalog file"),
])
def test_cli_errors_are_one_clear_line(args, message, color_catalog, tiny_clip, tiny_yolo_path, tmp_path):
    build_index(open_catalog(color_catalog), tiny_clip, tmp_path / "idx", progress=False)
    photo = color_catalog.parent / "img" / "red.png"
    args = [a.format(idx=tmp_path / "idx", tmp=tmp_path, photo=photo) for a in args]
    done = _run(*args, "--detector", str(tiny_yolo_path)) if args[0] == "search" else _run(*args)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last and "Traceback" not in done.stderr
