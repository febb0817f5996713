"""The index on disk: search (narrowed or not), the encoder check, versions, damaged files."""

import os
from pathlib import Path

import numpy as np
import pytest

from core.types import Match, Where
from index.builder.build import build_index
from index.catalog.open import open_catalog
from index.catalog_index import CatalogIndex
from index.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from index.store import versions as store
from index.store.versions import live_version, read_live_manifest
from support import FakeEncoder, colour_catalog

COLOURS = {
    (255, 0, 0): [1, 0, 0],
    (200, 0, 50): [0.9, 0.1, 0],
    (150, 0, 100): [0.8, 0.2, 0],
    (0, 0, 255): [0, 1, 0],
    (255, 255, 255): [0, 0, 1],
}
ENCODER = FakeEncoder(COLOURS)


@pytest.fixture
def index_dir(tmp_path):
    catalog = colour_catalog(
        tmp_path,
        [
            ("P0", "Table lamp", (255, 0, 0)),
            ("P1", "Chair", (200, 0, 50)),
            ("P2", "Sofa", (150, 0, 100)),
            ("P3", "Armchair", (0, 0, 255)),
        ],
    )
    build_index(open_catalog(catalog), ENCODER, tmp_path / "idx", progress=False)
    return tmp_path / "idx"


def _ranked(found: list[Match]) -> list[tuple[str, float]]:
    return [(m.product.id, round(m.score, 4)) for m in found]


def test_search_returns_matches_best_first(index_dir):
    index = CatalogIndex.load(index_dir, encoder=ENCODER)
    [found] = index.search(np.array([[1, 0, 0]], np.float32), k=3)
    assert [m.product.id for m in found] == ["P0", "P1", "P2"]
    # FAISS's float32 inner products against numpy's float64 cosines: equal to float noise. (Rounding both to
    # 4 places is no tolerance: two values astride a rounding edge differ, and 0.970143 lies 7.5e-6 from one.)
    assert [m.score for m in found] == pytest.approx(
        [1.0, 0.9 / np.hypot(0.9, 0.1), 0.8 / np.hypot(0.8, 0.2)], abs=1e-5
    )
    assert len(index.search(np.ones((1, 3), np.float32), k=50)[0]) == 4  # k > catalog: no padding rows


def test_search_among_rows_returns_only_those_rows(index_dir):
    index = CatalogIndex.load(index_dir)
    query = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    found = index.search(query, k=3, where=Where(rows=np.array([1, 3])))
    assert [[m.product.id for m in f] for f in found] == [["P1", "P3"], ["P3", "P1"]]
    assert index.search(query, k=3, where=Where(rows=np.array([], dtype=np.int64))) == [[], []]


def test_queries_of_the_wrong_size_are_refused(index_dir):
    with pytest.raises(IndexMismatchError, match="do not fit"):
        CatalogIndex.load(index_dir).search(np.zeros((1, 8), np.float32), k=3)


def test_another_encoder_is_refused_at_load(index_dir, tiny_clip):
    with pytest.raises(IndexMismatchError, match=r"built with the encoder 'fake-centre-colour' .*3-d.*16-d"):
        CatalogIndex.load(index_dir, encoder=tiny_clip)


def test_the_live_manifest_reads_without_the_vectors(index_dir):
    manifest = read_live_manifest(index_dir)
    assert manifest.products == 4 and manifest.encoder == ENCODER.describe()


def test_rebuild_replaces_and_keeps_one_previous_version(index_dir, tmp_path):
    for _ in range(2):
        build_index(open_catalog(tmp_path / "catalog.csv"), ENCODER, index_dir, progress=False)
    versions = sorted(p.name for p in index_dir.glob("v-*"))
    assert len(versions) == 2 and live_version(index_dir).name == versions[-1]


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    path.write_bytes(bytes(data))


def _rot(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + np.random.default_rng(1).bytes(len(data) - len(data) // 2))


DAMAGES = {
    "deleted": lambda p: p.unlink(),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "empty": lambda p: p.write_bytes(b""),
    "random bytes": lambda p: p.write_bytes(np.random.default_rng(0).bytes(max(p.stat().st_size, 16))),
    "rotten second half": _rot,
    "one byte flipped": _flip,
}
FILES = ("CURRENT", "manifest.json", "vectors.faiss", "products.parquet", "kinds.json", "images/0.jpg")


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", FILES)
def test_every_damage_to_every_file_is_refused_never_served(index_dir, name, damage):
    version = live_version(index_dir)
    DAMAGES[damage](index_dir / name if name == "CURRENT" else version / name)
    error = IndexNotFoundError if (name, damage) == ("CURRENT", "deleted") else IndexCorruptError
    with pytest.raises(error) as refused:
        CatalogIndex.load(index_dir)
    assert "\n" not in str(refused.value) and (
        "rebuild" in str(refused.value).lower() or "Build one" in str(refused.value)
    )


@pytest.mark.parametrize("damage", ["none", *DAMAGES])
def test_the_thumbnails_of_a_large_index_are_checked_while_it_serves(index_dir, monkeypatch, damage):
    """Above THUMBNAILS_CHECKED_AT_LOAD thumbnails (a million take a minute to check), the first search does
    not wait for them; one found damaged stops every search, as a damaged file found at load would."""
    monkeypatch.setattr(store, "THUMBNAILS_CHECKED_AT_LOAD", 3)  # the index holds 4
    if damage != "none":
        DAMAGES[damage](live_version(index_dir) / "images" / "2.jpg")
    index = CatalogIndex.load(index_dir)
    assert index.checked.wait(10)
    if damage == "none":
        assert index.damage is None and _ranked(index.search(np.array([[1.0, 0, 0]]), k=1)[0])[0][0] == "P0"
        return
    assert "images/2.jpg" in index.damage and "rebuild the index" in index.damage.lower()
    with pytest.raises(IndexCorruptError, match=r"2.jpg"):
        index.search(np.array([[1.0, 0, 0]]), k=1)


def test_a_small_index_checks_its_thumbnails_before_it_serves(index_dir):
    assert CatalogIndex.load(index_dir).checked.is_set()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda v: (v.parent / "CURRENT").write_text(f"v-gone\n{'0' * 64}\n"), "missing version 'v-gone'"),
        (lambda v: (v.parent / "CURRENT").write_text(f"../../etc\n{'0' * 64}\n"), "missing version"),
        (lambda v: (v.parent / "CURRENT").write_text(f"{v.name}\n"), "an earlier format"),  # format 1's pointer
        (lambda v: (v.parent / "CURRENT").write_text(""), "CURRENT is damaged"),
        (lambda v: (v.parent / "CURRENT").write_bytes(b"\xff\xfe\x00"), "CURRENT is damaged"),
    ],
)
def test_a_damaged_pointer_is_named(index_dir, damage, message):
    damage(live_version(index_dir))
    with pytest.raises(IndexCorruptError, match=message):
        CatalogIndex.load(index_dir)


def test_a_manifest_naming_a_file_outside_its_version_is_refused(index_dir):
    import hashlib
    import json

    version = live_version(index_dir)
    data = json.loads((version / "manifest.json").read_text())
    data["checksums"]["../../secret"] = "0" * 64
    text = json.dumps(data).encode()
    (version / "manifest.json").write_bytes(text)  # rewritten with its pointer, as a forger would
    (index_dir / "CURRENT").write_text(f"{version.name}\n{hashlib.sha256(text).hexdigest()}\n")
    with pytest.raises(IndexCorruptError, match="outside the version"):
        CatalogIndex.load(index_dir)


def test_checksums_cover_every_file_of_a_version(index_dir):
    version = live_version(index_dir)
    written = {p.relative_to(version).as_posix() for p in version.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(read_live_manifest(index_dir).checksums) == written and "images/3.jpg" in written


def test_a_new_build_removes_what_killed_builds_left(index_dir, tmp_path):
    dead = index_dir / ".building-999999999-v-20260101-000000-000000-dead"
    (dead / "images").mkdir(parents=True)
    (index_dir / ".CURRENT-999999999-0000").write_text("v-x\n")
    alive = index_dir / f".building-{os.getpid()}-v-20260101-000000-000000-live"  # a build still running
    alive.mkdir()
    build_index(open_catalog(tmp_path / "catalog.csv"), ENCODER, index_dir, progress=False)
    assert not dead.exists() and not (index_dir / ".CURRENT-999999999-0000").exists() and alive.exists()


def test_an_index_of_format_5_with_its_products_in_json_lines_still_loads(index_dir):
    """Indexes built before the table was parquet (format 5, products.jsonl; on the Hub too) are served as they are."""
    import json

    from index.store.manifest import sha256

    version = live_version(index_dir)
    before = CatalogIndex.load(index_dir)
    relative = [{**p.__dict__, "image": f"images/{p.row}.jpg"} for p in before.products]
    (version / "products.jsonl").write_text("".join(json.dumps(p) + "\n" for p in relative))
    (version / "products.parquet").unlink()
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["checksums"] = {
        ("products.jsonl" if k == "products.parquet" else k): v for k, v in manifest["checksums"].items()
    }
    manifest["checksums"]["products.jsonl"] = store.file_sha256(version / "products.jsonl")
    manifest["format"] = 5
    text = json.dumps(manifest).encode()
    (version / "manifest.json").write_bytes(text)
    (index_dir / "CURRENT").write_text(f"{version.name}\n{sha256(text)}\n")

    after = CatalogIndex.load(index_dir)
    assert after.manifest.format == 5 and list(after.products) == list(before.products)
    assert _ranked(after.search(np.array([[1.0, 0, 0]]), k=2)[0]) == _ranked(
        before.search(np.array([[1.0, 0, 0]]), k=2)[0]
    )
    assert after.table.categories == before.table.categories


def test_the_products_come_back_from_their_columns_as_they_went_in(tmp_path):
    from core.types import Product
    from index.store.kinds import ProductKinds, load_kind_rules
    from index.store.products import ProductTable, write_table

    products = [
        Product(
            row=0,
            id="A",
            name="Oak chair",
            category="Chair",
            price=19.5,
            link="https://s.example/a",
            image="images/0.jpg",
            popularity=4.5,
            attributes={"colour": "oak"},
        ),
        Product(
            row=1,
            id="A",
            name=None,
            category=None,
            price="on request",
            image="images/1.jpg",
            attributes={"material": "wool", "colour": "grey"},
        ),
        Product(row=2, id="B", category="Rug", price=None, image="https://cdn.example/b.jpg"),
    ]
    write_table(tmp_path, products, ProductKinds.of_categories([p.category for p in products], load_kind_rules(None)))
    table = ProductTable.load(tmp_path)
    absolute = [p.__class__(**{**p.__dict__, "image": str(tmp_path / p.image)}) for p in products[:2]] + products[2:]
    assert list(table.products) == absolute and table.products[-1] == absolute[-1]
    assert table.products[1:] == absolute[1:] and len(table) == 3
    with pytest.raises(IndexError):
        table.products[3]
    assert table.categories == ["Chair", "Rug"] and table.distinct_products == 2 and table.photos_per_product == 1.5
    assert table.rows_where(Where(categories=("Rug",))).tolist() == [2]
    assert table.rows_where(Where(min_price=10)).tolist() == [0]
