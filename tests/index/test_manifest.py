"""The manifest: written and read as typed values; a damaged or foreign one named in one line."""

import json
from dataclasses import replace

import numpy as np
import pytest

from core.types import EncoderInfo
from index.catalog import CatalogSource
from index.errors import IndexCorruptError, IndexMismatchError
from index.manifest import FORMAT_VERSION, Manifest, package_versions
from support import FakeEncoder

MANIFEST = Manifest(encoder=EncoderInfo("enc", "fake", "centre-colour", 3), probe=(1.0, 0.0, 0.0),
                    source=CatalogSource("local", path="/c.csv"), columns={"image": "image", "name": None},
                    currency="HKD", created="2026-12-03T00:00:00+00:00", versions={"torch": "2"}, products=4,
                    skipped=1, background=(250, 250, 250))


def test_round_trip(tmp_path):
    (tmp_path / "manifest.json").write_text(MANIFEST.to_json())
    assert Manifest.read(tmp_path / "manifest.json") == MANIFEST
    data = json.loads(MANIFEST.to_json())
    assert data["format"] == FORMAT_VERSION and data["source"] == {"type": "local", "path": "/c.csv"}


@pytest.mark.parametrize("edit, message", [
    (lambda d: "[]", "no JSON object"),
    (lambda d: json.dumps({**d, "format": 99}), "index format 99"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "encoder"}), "no field 'encoder'"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "probe"}), "no field 'probe'"),
    (lambda d: json.dumps({**d, "encoder": {"name": "x"}}), "wrong shape"),
    (lambda d: json.dumps({**d, "probe": "abc"}), "wrong shape"),
    (lambda d: "{", "cannot be read"),
])
def test_a_damaged_manifest_is_named(tmp_path, edit, message):
    (tmp_path / "manifest.json").write_text(edit(json.loads(MANIFEST.to_json())))
    with pytest.raises(IndexCorruptError, match=message):
        Manifest.read(tmp_path / "manifest.json")
    with pytest.raises(IndexCorruptError, match="missing"):
        Manifest.read(tmp_path / "absent.json")


def test_another_encoder_is_refused_by_size_or_by_its_probe():
    same = FakeEncoder({(0, 0, 0): [1, 0, 0]})
    MANIFEST.check_encoder(same, "/idx")
    with pytest.raises(IndexMismatchError, match=r"built with the encoder 'enc' \(3-d\).*\(2-d\)"):
        MANIFEST.check_encoder(FakeEncoder({(0, 0, 0): [1, 0]}), "/idx")
    with pytest.raises(IndexMismatchError, match="rebuild the index with --encoder"):
        replace(MANIFEST, probe=tuple(np.array([0.0, 1.0, 0.0]))).check_encoder(same, "/idx")


def test_package_versions_names_what_an_index_depends_on():
    assert {"faiss-cpu", "torch", "transformers"} <= set(package_versions())
