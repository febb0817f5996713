"""python -m search: the result as JSON on standard output, or one `error:` line and exit code 2."""

import json
import os
import subprocess
import sys

import pytest

from index.builder.build import build_index
from index.catalog.open import open_catalog
from index.store.versions import live_version
from search.__main__ import main
from support import ROOT


@pytest.fixture
def index_dir(color_catalog, tiny_clip, tmp_path):
    build_index(open_catalog(color_catalog), tiny_clip, tmp_path / "idx", progress=False)
    return tmp_path / "idx"


def test_prints_the_result_as_json(index_dir, color_catalog, tiny_yolo_path, capsys, monkeypatch):
    monkeypatch.setenv("LOOKALIKE_INDEX_DIR", str(index_dir))  # the encoder defaults to the index's own
    photo = color_catalog.parent / "img" / "green.png"
    assert main([str(photo), "--detector", str(tiny_yolo_path), "--top-k", "2", "--device", "cpu"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["image_size"] == [50, 60] and not data["whole_image"]
    [whole] = [o for o in data["objects"] if o["label"] == "whole photo"]  # few objects: the photo is one more
    chairs = [o for o in data["objects"] if o is not whole]
    assert whole["score"] is None and chairs
    for obj in data["objects"]:
        assert len(obj["box"]) == 4 and len(obj["products"]) == 2
    for obj in chairs:
        assert obj["label"] == "chair" and 0 < obj["score"] <= 1
        assert {"id", "name", "price", "link", "image", "score"} <= set(obj["products"][0])


@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/photo.jpg", "--index", "{idx}"], "No image file"),
        (["{photo}", "--index", "{tmp}/empty"], "No index at"),
        (["{photo}", "--index", "{idx}", "--top-k", "0"], "top_k must be a whole number from 1 to 30; got 0"),
        (["{photo}", "--index", "{idx}", "--conf", "0"], "conf must be a number above 0 and at most 1; got 0.0"),
        (["{photo}", "--index", "{idx}", "--detector", "{tmp}/none.pt"], "No detector weights"),
        (["{photo}", "--index", "{idx}", "--encoder", "{tmp}/none"], "Could not load the encoder"),
    ],
)
def test_errors_are_one_clear_line(args, message, index_dir, color_catalog, tiny_yolo_path, tmp_path, capsys):
    photo = color_catalog.parent / "img" / "red.png"
    args = [a.format(idx=index_dir, tmp=tmp_path, photo=photo) for a in args]
    if "--detector" not in args:
        args += ["--detector", str(tiny_yolo_path)]
    assert main(args) == 2
    captured = capsys.readouterr()
    error = captured.err.strip().splitlines()[-1]  # after transformers' own progress bar, where a model loaded
    assert error.startswith("error: ") and message in error and "Traceback" not in captured.err and not captured.out


@pytest.mark.parametrize("name", ["CURRENT", "manifest.json", "vectors.faiss", "products.parquet", "images/0.jpg"])
def test_a_damaged_index_is_one_clear_line(name, index_dir, color_catalog, tiny_yolo_path, capsys):
    version = live_version(index_dir)
    path = index_dir / name if name == "CURRENT" else version / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # the smallest damage: one bit
    path.write_bytes(bytes(data))

    photo = color_catalog.parent / "img" / "red.png"
    assert main([str(photo), "--index", str(index_dir), "--detector", str(tiny_yolo_path)]) == 2
    captured = capsys.readouterr()
    error = captured.err.strip().splitlines()[-1]  # after transformers' progress bar, where the encoder loaded
    assert not captured.out and error.startswith("error: ") and "damaged" in error and "Traceback" not in captured.err


@pytest.mark.slow
def test_a_real_process_prints_json_alone(index_dir, tiny_yolo_path, tmp_path):
    from PIL import Image

    Image.linear_gradient("L").resize((64, 48)).save(tmp_path / "plain.png")
    # A first run: ultralytics has no settings file yet, and announces the one it creates.
    fresh = {"YOLO_CONFIG_DIR": str(tmp_path / "fresh-yolo-config")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "search",
            str(tmp_path / "plain.png"),
            "--index",
            str(index_dir),
            "--detector",
            str(tiny_yolo_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "LOOKALIKE_DETECT_MIRRORED": "false", **fresh},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fresh-yolo-config").is_dir() and "Ultralytics" in done.stderr  # said, but not on stdout
    data = json.loads(done.stdout)
    assert data["image_size"] == [64, 48] and "chair" in [o["label"] for o in data["objects"]]
