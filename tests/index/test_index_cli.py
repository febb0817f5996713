"""python -m index build: in-process for its answers, as a real process for its progress bar and a kill."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from index.__main__ import main
from index.catalog_index import CatalogIndex
from index.store.versions import live_version
from support import ROOT


def test_build_prints_a_summary(color_catalog, tiny_clip_path, tmp_path, capsys):
    assert (
        main(
            [
                "build",
                "--source",
                str(color_catalog),
                "--out",
                str(tmp_path / "idx"),
                "--encoder",
                str(tiny_clip_path),
                "--device",
                "cpu",
                "--batch-size",
                "4",
            ]
        )
        == 0
    )
    assert "Indexed 6 products" in capsys.readouterr().out
    assert len(CatalogIndex.load(tmp_path / "idx")) == 6


@pytest.mark.parametrize(
    "args, message",
    [
        (["--source", "{tmp}/none.csv"], "No catalog file"),
        (["--source", "{catalog}", "--image-column", "photo"], "no column 'photo'"),
        (["--source", "{catalog}", "--batch-size", "0"], "batch_size"),
        (["--source", "{catalog}", "--encoder", "{tmp}/no-model"], "Could not load the encoder"),
    ],
)
def test_errors_are_one_line_and_exit_2(args, message, color_catalog, tmp_path, capsys):
    args = [a.format(tmp=tmp_path, catalog=color_catalog) for a in args]
    assert main(["build", *args, "--out", str(tmp_path / "idx")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error and "\n" not in error


def _run(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "index", "build", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_a_real_process_shows_progress(color_catalog, tiny_clip_path, tmp_path):
    done = _run("--source", str(color_catalog), "--out", str(tmp_path / "idx"), "--encoder", str(tiny_clip_path))
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert "Indexed 6 products" in out and "Indexing catalog" in err  # the progress bar


@pytest.mark.slow
def test_builds_killed_at_random_moments_leave_the_live_index_serving(
    color_catalog, tiny_clip, tiny_clip_path, tmp_path
):
    from index.builder.build import build_index
    from index.catalog.open import open_catalog

    out = tmp_path / "idx"
    build_index(open_catalog(color_catalog), tiny_clip, out, progress=False)
    before = live_version(out)
    query = tiny_clip.embed_images([Image.new("RGB", (16, 16), (200, 30, 30))])
    served = [m.product.id for m in CatalogIndex.load(out, encoder=tiny_clip).search(query, 6)[0]]
    big = tmp_path / "big"
    (big / "img").mkdir(parents=True)
    for i in range(800):
        Image.new("RGB", (16, 16), (i % 256, 0, 0)).save(big / "img" / f"{i}.png")
    (big / "catalog.csv").write_text("image\n" + "".join(f"img/{i}.png\n" for i in range(800)))

    for kill_after in np.random.default_rng(3).integers(1, 700, 3):  # thumbnails written before the kill
        proc = _run(
            "--source",
            str(big / "catalog.csv"),
            "--out",
            str(out),
            "--encoder",
            str(tiny_clip_path),
            "--device",
            "cpu",
            "--batch-size",
            "1",
        )
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if len(list(out.glob(".building-*/images/*.jpg"))) >= kill_after:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the build finished (or failed) before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        assert live_version(out) == before
        assert [m.product.id for m in CatalogIndex.load(out, encoder=tiny_clip).search(query, 6)[0]] == served
    assert list(out.glob(".building-*"))  # what the killed builds left...
    build_index(open_catalog(big / "catalog.csv"), tiny_clip, out, progress=False)  # the next build succeeds
    assert len(CatalogIndex.load(out)) == 800
    assert not list(out.glob(".building-*")) and not list(out.glob(".CURRENT-*"))  # ...and it cleaned up


def test_inspect_shows_how_the_default_catalog_would_be_read_and_embeds_nothing(tmp_path, capsys, monkeypatch):
    from core.defaults import DEFAULT_CATALOG_READING
    from support import abo_standin

    for name, value in DEFAULT_CATALOG_READING.items():  # the default catalog's reading, as the app's
        monkeypatch.setenv(f"LOOKALIKE_{name.upper()}", str(value))
    monkeypatch.setenv("LOOKALIKE_INDEX_DIR", str(tmp_path / "index"))
    assert main(["inspect", str(abo_standin(tmp_path / "abo"))]) == 0
    out = capsys.readouterr().out
    for expected in (
        "Configurations: listings, images_small (reading listings",
        "raw_listing_json: string",
        "image       <- main_image_id: names each product's image by the image_id of images_small",
        "Kept 8 of 10 rows",
        "Found the images of 7 of 8 rows",
        "CELLULAR_PHONE_CASE                     1        0        0",
        "Types kept that no row has: BASKET",
        "7 products would be indexed",
        "link:  https://www.amazon.com/dp/B07B4FZ5QL",
        "Images: stored in",
    ):
        assert expected in out, expected
    assert not (tmp_path / "index").exists()


def test_inspect_shows_a_feed_and_where_its_images_come_from(tmp_path, capsys):
    feed = tmp_path / "feed.csv"
    feed.write_text(
        "id,title,link,image_link,price,google_product_category\n"
        "S1,Velvet sofa,https://shop.example/s1,https://cdn.example/s1.jpg,499.00 USD,Furniture > Sofas\n"
    )
    assert main(["inspect", "--source", str(feed), "--limit", "5"]) == 0
    out = capsys.readouterr().out
    for expected in (
        "image       <- image_link",
        "category    <- google_product_category",
        "S1 · Velvet sofa · Furniture > Sofas · 499.0 USD",
        "Images: web links",
    ):
        assert expected in out, expected
