"""The local Hub (bench.hub) answers huggingface_hub and datasets as the Hub does, over loopback, and the
default catalog's settings build an index of the ABO stand-in through it: the `hf://` paths production reads."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

import bench.hub
from bench.hub import REPO, Faults
from bench.hub_data import Mirror, image_id, item_id, mirror_folder
from core.settings import Settings
from support import ABO_LISTINGS, ROOT, abo_standin, ensure, local_hub


@pytest.fixture
def abo(tmp_path):
    return abo_standin(tmp_path / "abo")


def test_huggingface_hub_reads_the_repository_as_the_hub_serves_it(abo, monkeypatch):
    from huggingface_hub import HfApi, HfFileSystem, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError
    from huggingface_hub.hf_api import RepoFile

    monkeypatch.setattr(bench.hub, "PAGE", 3)  # the tree of 5 files and 2 folders comes in pages
    shard = "listings/listings-00000-of-00002.parquet"
    with local_hub(monkeypatch, abo) as hub:
        api = HfApi()
        info = api.dataset_info(REPO)
        assert api.dataset_info(REPO, revision=info.sha).sha == info.sha and len(info.sha) == 40
        tree = list(api.list_repo_tree(REPO, repo_type="dataset", recursive=True))
        files = sorted(f.path for f in tree if isinstance(f, RepoFile))
        assert files == sorted(p.relative_to(abo).as_posix() for p in abo.rglob("*") if p.is_file())
        assert hub.stats()["GET tree"] == 3
        [found] = api.get_paths_info(REPO, [shard, "nowhere.txt"], repo_type="dataset", revision=info.sha)
        assert (found.size, found.lfs.size) == ((abo / shard).stat().st_size,) * 2
        readme = hf_hub_download(REPO, "README.md", repo_type="dataset")
        assert Path(readme).read_text() == (abo / "README.md").read_text()
        data = (abo / shard).read_bytes()
        with HfFileSystem().open(f"datasets/{REPO}@{info.sha}/{shard}", "rb", block_size=256) as f:
            f.seek(300)
            assert f.read(100) == data[300:400]  # a ranged read
        assert pq.read_table(HfFileSystem().open(f"datasets/{REPO}/{shard}", "rb")).num_rows == 5
        for missing, error in [
            (lambda: api.dataset_info("someone/else"), RepositoryNotFoundError),
            (lambda: api.dataset_info(REPO, revision="v9"), RevisionNotFoundError),
            (lambda: hf_hub_download(REPO, "nowhere.txt", repo_type="dataset"), EntryNotFoundError),
        ]:
            with pytest.raises(error):
                missing()
        assert hub.stats()["bytes"] >= len(data) + 100


def test_the_default_settings_build_the_default_catalog_from_the_hub(abo, monkeypatch, tiny_clip_path, tmp_path):
    settings = Settings.of(encoder=str(tiny_clip_path), index_dir=str(tmp_path / "index"), device="cpu")
    with local_hub(monkeypatch, abo) as hub:
        index, _ = ensure(settings, build=True, progress=False)
        stats = hub.stats()
        sha = bench.hub.Repo(REPO, abo, Faults()).sha
    homes = {"SOFA", "CHAIR", "TABLE", "LAMP", "HOME_MIRROR"}
    assert sorted(p.id for p in index.products) == sorted(
        listing[0] for listing in ABO_LISTINGS if listing[3] in homes and "missing" not in listing[6]
    )
    assert (index.manifest.source.type, index.manifest.source.id) == ("hub", REPO)
    assert index.manifest.source.revision == sha  # the commit indexed, pinned
    assert stats["GET resolve"] >= 4 and stats["GET tree"] >= 2  # read over HTTP, as the Space reads it


def test_a_generated_mirror_is_kept_and_found_again(tmp_path):
    mirror = Mirror(listings=30, shards=2, broken=(item_id(4),))
    folder = mirror_folder(mirror, tmp_path)
    assert mirror_folder(mirror, tmp_path) == folder and len(list(tmp_path.iterdir())) == 1
    listings = pq.read_table(folder / "listings" / "listings-00000-of-00002.parquet")
    assert listings.num_rows == 15 and listings.column("main_image_id")[4].as_py() == image_id(4)
    images = pq.read_table(folder / "images_small", columns=["image_id", "image"]).to_pylist()
    assert [r["image_id"] for r in images] == sorted(r["image_id"] for r in images)
    by_id = {r["image_id"]: r["image"] and r["image"]["bytes"] for r in images}
    assert by_id[image_id(4)] is None and by_id[image_id(5)][:2] == b"\xff\xd8"
    assert image_id(1) not in by_id  # one listing in `missing_every` has no image row


@pytest.mark.slow
def test_python_m_bench_hub_serves_until_stopped_and_prints_the_endpoint(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "bench.hub", "--port", str(port), "--listings", "20", "--cache", str(tmp_path)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        lines = []
        while time.time() < deadline and not any(line.startswith("HF_ENDPOINT=") for line in lines):
            lines.append(proc.stdout.readline())
        endpoint = lines[-1].strip().partition("=")[2]
        assert endpoint == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{endpoint}/api/datasets/{REPO}").json()["id"] == REPO
        httpx.post(f"{endpoint}/_hub/faults", json={"fail": [["README", 503, 1, None]]})
        assert httpx.head(f"{endpoint}/datasets/{REPO}/resolve/main/README.md").status_code == 503
        assert httpx.get(f"{endpoint}/_hub/stats").json()["HEAD resolve"] == 1
        assert proc.poll() is None  # still serving
    finally:
        proc.terminate()
        proc.wait(10)
