"""The manifest: written and read as typed values; a damaged or foreign one named in one line."""

import json
from dataclasses import replace

import numpy as np
import pytest

from core.types import EncoderInfo
from index.catalog.source import CatalogSource
from index.errors import IndexCorruptError, IndexMismatchError
from index.store.manifest import FORMAT_VERSION, AdaptationInfo, Manifest, package_versions, sha256
from support import FakeEncoder

MANIFEST = Manifest(
    encoder=EncoderInfo("enc", "fake", "centre-colour", 3),
    probe=(1.0, 0.0, 0.0),
    source=CatalogSource("local", path="/c.csv"),
    columns={"image": "image", "name": None},
    currency="HKD",
    created="2026-12-03T00:00:00+00:00",
    versions={"torch": "2"},
    products=4,
    skipped=1,
    background=(250, 250, 250),
)


def test_round_trip(tmp_path):
    (tmp_path / "manifest.json").write_text(MANIFEST.to_json())
    assert Manifest.read(tmp_path / "manifest.json") == MANIFEST
    data = json.loads(MANIFEST.to_json())
    assert data["format"] == FORMAT_VERSION and data["source"] == {"type": "local", "path": "/c.csv"}


def test_an_adaptation_round_trips_and_an_index_of_format_4_reads_as_unadapted(tmp_path):
    adapted = replace(
        MANIFEST,
        adaptation=AdaptationInfo(
            MANIFEST.encoder, MANIFEST.probe, "linear-infonce", "2026-12-06T00:00:00+00:00", {"views": 12}
        ),
    )
    (tmp_path / "manifest.json").write_text(adapted.to_json())
    assert Manifest.read(tmp_path / "manifest.json") == adapted
    data = json.loads(MANIFEST.to_json())
    del data["adaptation"]
    (tmp_path / "manifest.json").write_text(json.dumps({**data, "format": 4}))
    assert Manifest.read(tmp_path / "manifest.json") == replace(MANIFEST, format=4)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: "[]", "no JSON object"),
        (lambda d: json.dumps({**d, "format": 99}), "index format 99"),
        (lambda d: json.dumps({k: v for k, v in d.items() if k != "encoder"}), "bad field 'encoder': Field required"),
        (lambda d: json.dumps({k: v for k, v in d.items() if k != "probe"}), "bad field 'probe'"),
        (lambda d: json.dumps({**d, "encoder": {"name": "x"}}), "bad field 'encoder.model_type'"),
        (lambda d: json.dumps({**d, "encoder": {**d["encoder"], "dim": "wide"}}), "bad field 'encoder.dim'"),
        (lambda d: json.dumps({**d, "probe": "abc"}), "bad field 'probe'"),
        (lambda d: json.dumps({**d, "probe": [1, "x", 0]}), "bad field 'probe.1'"),
        (lambda d: json.dumps({**d, "source": []}), "bad field 'source'"),
        (lambda d: json.dumps({**d, "background": [1, 2]}), "bad field 'background"),
        (lambda d: json.dumps({**d, "checksums": {"vectors.faiss": 5}}), "bad field 'checksums.vectors.faiss'"),
        (lambda d: "{", "cannot be read"),
    ],
)
def test_a_damaged_manifest_is_named(tmp_path, edit, message):
    (tmp_path / "manifest.json").write_text(edit(json.loads(MANIFEST.to_json())))
    with pytest.raises(IndexCorruptError, match=message):
        Manifest.read(tmp_path / "manifest.json")
    with pytest.raises(IndexCorruptError, match="missing"):
        Manifest.read(tmp_path / "absent.json")


def test_a_manifest_that_is_not_the_one_its_build_wrote_is_refused(tmp_path):
    (tmp_path / "manifest.json").write_text(MANIFEST.to_json())
    digest = sha256(MANIFEST.to_json().encode())
    assert Manifest.read(tmp_path / "manifest.json", digest) == MANIFEST
    (tmp_path / "manifest.json").write_text(MANIFEST.to_json().replace("250", "251"))  # still valid JSON
    with pytest.raises(IndexCorruptError, match="damaged"):
        Manifest.read(tmp_path / "manifest.json", digest)


def test_another_encoder_is_refused_by_size_or_by_its_probe():
    same = FakeEncoder({(0, 0, 0): [1, 0, 0]})
    MANIFEST.check_encoder(same, "/idx")
    with pytest.raises(IndexMismatchError, match=r"built with the encoder 'enc' \(3-d\).*\(2-d\)"):
        MANIFEST.check_encoder(FakeEncoder({(0, 0, 0): [1, 0]}), "/idx")
    with pytest.raises(IndexMismatchError, match="rebuild the index with --encoder"):
        replace(MANIFEST, probe=tuple(np.array([0.0, 1.0, 0.0]))).check_encoder(same, "/idx")


def test_the_same_encoder_embedding_otherwise_is_told_to_rebuild():
    # MobileNetV2 read as 1,280-d before, 1,600-d now: one name, another embedding
    built = replace(MANIFEST, encoder=replace(MANIFEST.encoder, name=FakeEncoder.name))
    with pytest.raises(IndexMismatchError, match=r"embedded then \(3-d\); it embeds otherwise now \(2-d.*Rebuild"):
        built.check_encoder(FakeEncoder({(0, 0, 0): [1, 0]}), "/idx")


def test_package_versions_names_what_an_index_depends_on():
    assert {"faiss-cpu", "torch", "transformers"} <= set(package_versions())
