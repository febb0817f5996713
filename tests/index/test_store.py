"""The index on disk: search (restricted to rows or not), the encoder check, versions, damaged files."""

import numpy as np
import pytest

from core.types import Match
from index.build import build_index
from index.catalog import open_catalog
from index.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from index.store import CatalogIndex, live_version, read_live_manifest
from support import FakeEncoder, colour_catalog

COLOURS = {(255, 0, 0): [1, 0, 0], (200, 0, 50): [0.9, 0.1, 0], (150, 0, 100): [0.8, 0.2, 0], (0, 0, 255): [0, 1, 0],
           (255, 255, 255): [0, 0, 1]}
ENCODER = FakeEncoder(COLOURS)


@pytest.fixture
def index_dir(tmp_path):
    catalog = colour_catalog(tmp_path, [("P0", "Table lamp", (255, 0, 0)), ("P1", "Chair", (200, 0, 50)),
                                        ("P2", "Sofa", (150, 0, 100)), ("P3", "Armchair", (0, 0, 255))])
    build_index(open_catalog(catalog), ENCODER, tmp_path / "idx", progress=False)
    return tmp_path / "idx"


def _ranked(found: list[Match]) -> list[tuple[str, float]]:
    return [(m.product.id, round(m.score, 4)) for m in found]


def test_search_returns_matches_best_first(index_dir):
    index = CatalogIndex.load(index_dir, encoder=ENCODER)
    [found] = index.search(np.array([[1, 0, 0]], np.float32), k=3)
    assert _ranked(found) == [("P0", 1.0), ("P1", round(0.9 / np.hypot(0.9, 0.1), 4)),
                              ("P2", round(0.8 / np.hypot(0.8, 0.2), 4))]
    assert len(index.search(np.ones((1, 3), np.float32), k=50)[0]) == 4  # k > catalog: no padding rows


def test_search_among_rows_returns_only_those_rows(index_dir):
    index = CatalogIndex.load(index_dir)
    query = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    found = index.search(query, k=3, rows=np.array([1, 3]))
    assert [[m.product.id for m in f] for f in found] == [["P1", "P3"], ["P3", "P1"]]
    assert index.search(query, k=3, rows=np.array([], dtype=np.int64)) == [[], []]


def test_queries_of_the_wrong_size_are_refused(index_dir):
    with pytest.raises(IndexMismatchError, match="do not fit"):
        CatalogIndex.load(index_dir).search(np.zeros((1, 8), np.float32), k=3)


def test_another_encoder_is_refused_at_load(index_dir, tiny_clip):
    with pytest.raises(IndexMismatchError, match="built with the encoder 'fake-centre-colour' .*3-d.*16-d"):
        CatalogIndex.load(index_dir, encoder=tiny_clip)


def test_the_live_manifest_reads_without_the_vectors(index_dir):
    manifest = read_live_manifest(index_dir)
    assert manifest.products == 4 and manifest.encoder == ENCODER.describe()


def test_rebuild_replaces_and_keeps_one_previous_version(index_dir, tmp_path):
    for _ in range(2):
        build_index(open_catalog(tmp_path / "catalog.csv"), ENCODER, index_dir, progress=False)
    versions = sorted(p.name for p in index_dir.glob("v-*"))
    assert len(versions) == 2 and live_version(index_dir).name == versions[-1]


@pytest.mark.parametrize("damage, error, message", [
    (lambda v: (v / "vectors.faiss").write_bytes(b"\x00" * 50), IndexCorruptError, "vectors"),
    (lambda v: (v / "vectors.faiss").unlink(), IndexCorruptError, "vectors"),
    (lambda v: (v / "products.jsonl").write_text("{not json\n"), IndexCorruptError, "product list"),
    (lambda v: (v / "products.jsonl").write_text('{"row": 0, "id": "x"}\n'), IndexCorruptError, "inconsistent"),
    (lambda v: (v / "manifest.json").write_text("{"), IndexCorruptError, "manifest.json"),
    (lambda v: (v / "manifest.json").write_text("[]"), IndexCorruptError, "no JSON object"),
    (lambda v: (v / "manifest.json").unlink(), IndexCorruptError, "missing"),
    (lambda v: (v.parent / "CURRENT").write_text("v-gone\n"), IndexCorruptError, "missing version"),
    (lambda v: (v.parent / "CURRENT").write_text("../../etc\n"), IndexCorruptError, "missing version"),
    (lambda v: (v.parent / "CURRENT").unlink(), IndexNotFoundError, "No index at"),
])
def test_damaged_index_gives_a_clear_error(index_dir, damage, error, message):
    damage(live_version(index_dir))
    with pytest.raises(error, match=message):
        CatalogIndex.load(index_dir)
