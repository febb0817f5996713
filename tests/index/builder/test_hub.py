"""An index on the Hub: what `push` uploads, and serving a downloaded snapshot pinned to a revision.

The upload itself needs the Hub and is not run here. Downloads are served by huggingface_hub from a
local Hub cache laid out as it lays them out (`datasets--OWNER--NAME/snapshots/<commit>/`), offline.
"""

import hashlib
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from core.settings import CatalogSettings, Settings
from index.builder.build import build_index
from index.builder.hub import HubIndex, build_command, hub_index, stage
from index.catalog.open import open_catalog
from index.catalog_index import CatalogIndex
from index.errors import IndexCorruptError, IndexNotFoundError
from index.store.manifest import CloseUpInfo
from index.store.versions import live_version, read_live_manifest
from support import ensure

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def built(tmp_path, color_catalog, tiny_clip_path, tiny_clip):
    build_index(open_catalog(color_catalog), tiny_clip, tmp_path / "index", progress=False)
    return tmp_path / "index"


@pytest.fixture
def hub_cache(tmp_path, monkeypatch, built):
    """A local Hub cache holding the staged index as the snapshot of owner/shop-index at COMMIT."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    repo = cache / "datasets--owner--shop-index"
    snapshot = stage(built, repo / "snapshots" / COMMIT, "cc-by-4.0")
    (repo / "blobs").mkdir()
    for path in [p for p in snapshot.rglob("*") if p.is_file()]:  # as huggingface_hub lays files out
        blob = repo / "blobs" / hashlib.sha256(path.read_bytes()).hexdigest()
        path.replace(blob)
        path.symlink_to(os.path.relpath(blob, path.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return repo / "snapshots" / COMMIT


@pytest.mark.parametrize(
    "location, expected",
    [
        ("/data/my-index", None),
        ("hf://datasets/owner/shop-index", HubIndex("owner/shop-index")),
        ("hf://datasets/owner/shop-index@" + COMMIT, HubIndex("owner/shop-index", COMMIT)),
        ("hf://datasets/owner/shop-index@v1.0", HubIndex("owner/shop-index", "v1.0")),
    ],
)
def test_hub_locations(location, expected):
    assert hub_index(location) == expected
    if expected:
        assert str(expected) == location


@pytest.mark.parametrize(
    "location", ["hf://datasets/shop-index", "hf://datasets/owner/shop-index@", "hf://datasets/a/b/c", "hf://datasets/"]
)
def test_a_malformed_hub_location_is_refused(location):
    with pytest.raises(IndexNotFoundError, match="is not a Hub index"):
        hub_index(location)


def test_the_staged_folder_is_the_live_version_and_a_card_and_loads_as_an_index(built, tmp_path, tiny_clip):
    staged = stage(built, tmp_path / "staged", "cc-by-4.0")
    version = live_version(built)
    assert sorted(p.name for p in staged.iterdir()) == sorted(["CURRENT", "README.md", version.name])
    assert sorted(p.relative_to(staged / version.name) for p in (staged / version.name).rglob("*")) == sorted(
        p.relative_to(version) for p in version.rglob("*")
    )
    card = (staged / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0\n")
    assert "6 product photos" in card and str(tiny_clip.name) in card
    assert f"python -m index build --source {built.parent / 'catalog.csv'} --encoder {tiny_clip.name}" in card
    assert CatalogIndex.load(staged, tiny_clip).manifest == CatalogIndex.load(built, tiny_clip).manifest


@pytest.mark.parametrize(
    ("photo_share", "close_ups", "flags"),
    [
        (1.0, CloseUpInfo(CatalogSettings.close_up_share), ""),
        (0.79, CloseUpInfo(CatalogSettings.close_up_share), " --photo-share 0.79"),
        (1.0, CloseUpInfo(0.8), " --close-up-share 0.8"),
        (1.0, None, " --close-up-share 1"),
    ],
)
def test_the_cards_build_command_names_the_shares_the_index_was_built_at(built, photo_share, close_ups, flags):
    manifest = replace(read_live_manifest(built), photo_share=photo_share, close_ups=close_ups)
    assert build_command(manifest).endswith(f"--encoder {manifest.encoder.name}{flags} --out ./index")


def test_an_index_is_served_from_the_hub_cache_at_its_pinned_revision(hub_cache, tiny_clip_path):
    for location in (f"hf://datasets/owner/shop-index@{COMMIT}", "hf://datasets/owner/shop-index"):
        index, encoder = ensure(Settings.of(index_dir=location, device="cpu"), build=True)
        assert index.path.parent == hub_cache and len(index) == 6
        assert encoder.name == str(tiny_clip_path)  # the index's own encoder


def test_the_page_may_show_a_hub_index_thumbnails_and_nothing_else_of_the_cache(hub_cache, tmp_path):
    from gradio.utils import is_allowed_file

    from web.thumbnails import thumbnail_folders

    index, _ = ensure(Settings.of(index_dir=f"hf://datasets/owner/shop-index@{COMMIT}", device="cpu"))
    served = thumbnail_folders(index)
    assert all(is_allowed_file(Path(p.image), [], served, [])[0] for p in index.products)
    assert not is_allowed_file(tmp_path / "catalog.csv", [], served, [])[0]


def test_a_revision_that_is_not_there_is_refused_offline_with_what_to_do(hub_cache):
    other = "f" * 40
    with pytest.raises(IndexNotFoundError, match=f"not in the local Hub cache at revision {other}"):
        ensure(Settings.of(index_dir=f"hf://datasets/owner/shop-index@{other}"), build=True)


def test_a_damaged_snapshot_is_refused_not_served_or_rebuilt(hub_cache):
    products = next(hub_cache.glob("v-*")) / "products.parquet"
    data = bytearray(products.read_bytes())
    data[len(data) // 2] ^= 1
    products.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=r"products.parquet is damaged"):
        ensure(Settings.of(index_dir=f"hf://datasets/owner/shop-index@{COMMIT}"), build=True)


def test_push_stages_without_uploading_and_build_refuses_a_hub_location(built, tmp_path, capsys):
    from index.__main__ import main

    assert main(["push", "--repo", "owner/shop-index", "--index", str(built), "--stage", str(tmp_path / "s")]) == 0
    assert "nothing was uploaded" in capsys.readouterr().out
    assert (tmp_path / "s" / "README.md").read_text().startswith("---\nlicense: other\n")  # not the default catalog
    shutil.rmtree(tmp_path / "s")
    assert main(["build", "--source", str(built), "--out", "hf://datasets/owner/shop-index"]) == 2
    assert "An index is built into a folder" in capsys.readouterr().err
