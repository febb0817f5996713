"""A build that resumes: the batches it embedded are kept beside the index as it goes; a build stopped half
way (an error, or kill -9 of its process) and started again takes them over rather than embedding them again,
ends with the index an uninterrupted build writes, and leaves the index before it live until then."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from index.builder.build import build_index
from index.builder.resume import staging_folder
from index.catalog.open import open_catalog
from index.catalog_index import CatalogIndex
from index.store.versions import live_version
from support import ROOT, write_csv


def catalog_of(folder, n=24):
    (folder / "img").mkdir(parents=True)
    for i in range(n):
        Image.new("RGB", (32, 32), (10 * i, 250 - 10 * i, (90 * i) % 256)).save(folder / "img" / f"{i}.png")
    rows = [{"id": f"P{i:02d}", "image": f"img/{i}.png", "category": ("chair", "sofa")[i % 2]} for i in range(n)]
    return write_csv(folder / "catalog.csv", rows)


def same_index(a, b):
    first, second = CatalogIndex.load(a), CatalogIndex.load(b)
    rows = np.arange(len(first.products))
    assert [p.id for p in first.products] == [p.id for p in second.products]
    np.testing.assert_allclose(first.vectors.sample(rows), second.vectors.sample(rows), atol=1e-6)


class Stopped(Exception):
    pass


def stop_at(rows: int):
    """An `on_progress` that stops the build once `rows` catalog rows are embedded, as a restart would."""

    def told(done, total):
        if done >= rows:
            raise Stopped

    return told


def test_a_build_stopped_half_way_resumes_from_its_batches(tmp_path, tiny_clip):
    catalog = open_catalog(catalog_of(tmp_path / "shop"))
    build_index(catalog, tiny_clip, tmp_path / "whole", batch_size=4, progress=False)

    with pytest.raises(Stopped):
        build_index(catalog, tiny_clip, tmp_path / "idx", batch_size=4, progress=False, on_progress=stop_at(12))
    staged = staging_folder(tmp_path / "idx", tiny_clip)
    assert len(list(staged.glob("batch-*.npz"))) == 3 and not (tmp_path / "idx" / "CURRENT").exists()
    report = build_index(catalog, tiny_clip, tmp_path / "idx", batch_size=4, progress=False)
    assert report.products == 24 and report.reused == 12  # 3 batches taken over, 3 embedded
    same_index(tmp_path / "idx", tmp_path / "whole")
    assert not staged.exists()  # gone once the build is committed


def test_a_photo_changed_since_its_batch_was_kept_is_embedded_again(tmp_path, tiny_clip):
    source = catalog_of(tmp_path / "shop", n=8)
    with pytest.raises(Stopped):
        build_index(
            open_catalog(source), tiny_clip, tmp_path / "idx", batch_size=4, progress=False, on_progress=stop_at(4)
        )
    Image.new("RGB", (32, 32), (0, 0, 255)).save(tmp_path / "shop" / "img" / "0.png")
    report = build_index(open_catalog(source), tiny_clip, tmp_path / "idx", batch_size=4, progress=False)
    assert report.reused == 3
    build_index(open_catalog(source), tiny_clip, tmp_path / "whole", batch_size=4, progress=False)
    same_index(tmp_path / "idx", tmp_path / "whole")


@pytest.mark.slow
def test_a_build_killed_with_sigkill_resumes_and_the_index_before_stays_live(tmp_path, tiny_clip, tiny_clip_path):
    from bench.hub import Faults, LocalHub

    shop = tmp_path / "shop"
    catalog_of(shop, n=40)
    build_index(open_catalog(shop / "catalog.csv"), tiny_clip, tmp_path / "idx", progress=False)
    before = live_version(tmp_path / "idx")
    # The photos by link from the local Hub, 0.1 s each, so that the build is still going when it is killed.
    with LocalHub({"shop/photos": shop}, Faults(delay_s=0.1)) as hub:
        rows = [{"id": f"P{i:02d}", "image": hub.url("shop/photos", f"img/{i}.png")} for i in range(40)]
        feed = write_csv(tmp_path / "feed.csv", rows)
        command = [
            sys.executable,
            "-m",
            "index",
            "build",
            "--source",
            str(feed),
            "--out",
            str(tmp_path / "idx"),
            "--encoder",
            str(tiny_clip_path),
            "--batch-size",
            "2",
            "--device",
            "cpu",
        ]
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        staged = staging_folder(tmp_path / "idx", tiny_clip)
        deadline = time.time() + 120
        while time.time() < deadline and len(list(staged.glob("batch-*.npz"))) < 4 and proc.poll() is None:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kept = len(list(staged.glob("batch-*.npz")))
        assert 4 <= kept < 20 and live_version(tmp_path / "idx") == before
        assert len(CatalogIndex.load(tmp_path / "idx").products) == 40  # the index before, whole
        report = build_index(open_catalog(feed), tiny_clip, tmp_path / "idx", batch_size=2, progress=False)
        build_index(open_catalog(feed), tiny_clip, tmp_path / "whole", batch_size=2, progress=False)
    assert report.products == 40 and report.reused >= 2 * kept
    same_index(tmp_path / "idx", tmp_path / "whole")
