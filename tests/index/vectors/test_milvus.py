"""The Milvus backend (index.vectors.milvus) on Milvus Lite: an index built end to end finds what exact FAISS finds,
filters become Milvus expressions, stale collections go, and what cannot work says why. The contract
every backend keeps is tested in test_vectors.py."""

import re
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

from core.settings import CatalogSettings
from core.types import Where
from index.builder.build import build_index
from index.catalog.open import open_catalog
from index.catalog_index import CatalogIndex
from index.errors import CatalogIndexError, IndexCorruptError
from index.store.kinds import ProductKinds, load_kind_rules
from index.store.products import write_table
from index.vectors.backend import VectorSpec
from index.vectors.backends import load_backend, new_backend, spec_for
from support import write_csv

pytest.importorskip("pymilvus", reason="pymilvus is not installed (pip install -r requirements-scale.txt)")

from index.vectors.milvus import MilvusError, MilvusVectors, expression

CATEGORIES = ("Chair", "Three-seat sofa", "Rug", 'Armchair "Oslo" \\ oak', "")  # a quote and a backslash, none


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_clip):
    """One catalog of 30 photos (5 kinds, prices or none) built twice: exactly with FAISS and with Milvus Lite."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("milvus")
    rng = np.random.default_rng(0)
    (folder / "img").mkdir()
    rows = []
    for i in range(30):
        Image.fromarray(rng.integers(0, 256, size=(24, 24, 3), dtype=np.uint8)).resize((48, 48)).save(
            folder / "img" / f"{i}.png"
        )
        rows.append(
            {
                "id": f"P{i}",
                "image": f"img/{i}.png",
                "category": CATEGORIES[i % 5],
                "price": f"{10 * (i % 7)}" if i % 3 else "",
            }
        )
    catalog = write_csv(folder / "catalog.csv", rows)
    for name, wanted in (("exact", "exact"), ("milvus", "milvus")):
        build_index(open_catalog(catalog), tiny_clip, folder / name, progress=False, vector_index=wanted)
    return folder, *(CatalogIndex.load(folder / name, encoder=tiny_clip) for name in ("exact", "milvus"))


WHERES = {
    "everything": None,
    "a detector class, with the uncategorised": Where(kinds=("chair",)),
    "a class and the shop's own kind": Where(kinds=("couch", "rug")),
    "categories, one quoted": Where(categories=("Rug", 'Armchair "Oslo" \\ oak')),
    "a price range, unpriced out": Where(min_price=20, max_price=50),
    "a class within a price": Where(kinds=("chair",), max_price=30),
    "given rows": Where(rows=np.array([29, 3, 17, 3])),
    "nothing": Where(kinds=("rug",), categories=("Chair",)),
}


@pytest.mark.parametrize("name", WHERES)
def test_an_index_built_in_milvus_finds_what_exact_faiss_finds(built, name):
    _folder, exact, milvus = built
    where = WHERES[name]
    assert (exact.table.count(where) > 0) == (name != "nothing")
    queries = np.vstack(
        [
            exact.vectors.sample(np.array([0, 7, 13])),
            np.random.default_rng(1).normal(size=(2, exact.dim)).astype(np.float32),
        ]
    )
    for k in (1, 5, 30):
        want, got = exact.search(queries, k, where), milvus.search(queries, k, where)
        assert [[m.product.id for m in hits] for hits in got] == [[m.product.id for m in hits] for hits in want]
        assert np.allclose([m.score for hits in got for m in hits], [m.score for hits in want for m in hits], atol=1e-5)
        assert all(len(hits) == min(k, exact.table.count(where)) for hits in got)  # k whenever k are kept


def test_the_vectors_live_in_a_collection_of_the_version_in_the_index_directory(built):
    folder, exact, milvus = built
    spec = milvus.manifest.vectors
    assert spec.backend == "milvus" and spec.params["uri"] == "milvus.db"  # relative: the directory can move
    assert re.fullmatch(r"lookalike_[0-9a-f]{8}_" + milvus.path.name.replace("-", "_"), spec.params["collection"])
    assert (folder / "milvus" / "milvus.db").is_dir()
    assert sorted(p.name for p in milvus.path.iterdir()) == [
        "images",
        "kinds.json",
        "manifest.json",
        "photos.npz",
        "products.parquet",
    ]
    assert len(milvus.vectors) == len(exact) == 30
    # Medians of similarities that Milvus and FAISS each compute in float32 their own way: equal to float
    # noise (last digits), as the scores of the test above are.
    ours, theirs = milvus.manifest.calibration, exact.manifest.calibration
    assert (ours.unrelated, ours.near) == pytest.approx((theirs.unrelated, theirs.near), abs=1e-5)


def test_a_where_becomes_a_milvus_expression_over_the_scalar_fields():
    assert expression(None) == expression(Where()) == ""
    assert expression(
        Where(
            kinds=("chair", "rug"),
            categories=('Say "hi" \\ ok',),
            min_price=20,
            max_price=40.5,
            rows=np.array([9, 3, 3]),
        )
    ) == (
        '(kinds like "%|chair|%" or kinds like "%|rug|%") and category in ["Say \\"hi\\" \\\\ ok"] and '
        "price >= 20.0 and price <= 40.5 and row in [3, 9]"
    )


def _committed(directory, version, kinds=("chair", "rug"), uri=None):
    """A small Milvus backend committed into `directory`/`version` beside its product table."""
    from core.types import Product

    folder = directory / version
    folder.mkdir(parents=True)
    products = [Product(row=i, id=f"P{i}", category=kinds[i % len(kinds)]) for i in range(4)]
    write_table(folder, products, ProductKinds.of_categories([p.category for p in products], load_kind_rules(None)))
    backend = new_backend(spec_for(4, f"milvus:{uri}" if uri else "milvus"), 8)
    backend.add(np.eye(4, 8, dtype=np.float32), np.arange(4))
    return backend.commit(folder)


def test_a_build_drops_the_collections_of_versions_gone_and_no_other_directorys(tmp_path):
    first = _committed(tmp_path / "idx", "v-1")
    other = _committed(tmp_path / "other", "v-1", uri=str(tmp_path / "idx" / "milvus.db"))  # the same Milvus
    assert other["uri"] == str(tmp_path / "idx" / "milvus.db")  # outside its index directory: absolute
    second = _committed(tmp_path / "idx", "v-2")
    building = _committed(tmp_path / "idx", ".building-123-v-3")  # a build under way (index.store.versions's name)
    shutil.rmtree(tmp_path / "idx" / "v-1")  # as the store deletes a version two builds old
    fourth = _committed(tmp_path / "idx", "v-4")
    assert building["collection"].endswith("_v_3")
    client = MilvusVectors.load(tmp_path / "idx" / "v-4", fourth)._client
    assert set(client.list_collections()) == {
        other["collection"],
        second["collection"],
        building["collection"],
        fourth["collection"],
    }
    assert first["collection"] != other["collection"]


def test_without_pymilvus_a_milvus_index_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "index.vectors.milvus")
    with pytest.raises(CatalogIndexError, match=r"needs pymilvus.*pip install -r requirements-scale.txt"):
        new_backend(VectorSpec("milvus"), 8)


def test_an_unreachable_server_a_missing_collection_and_a_bad_uri_are_refused(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    with pytest.raises(MilvusError, match=f"Milvus at http://127.0.0.1:{port} cannot be reached"):
        _committed(tmp_path / "idx", "v-1", uri=f"http://127.0.0.1:{port}")
    params = _committed(tmp_path / "idx", "v-2")
    with pytest.raises(IndexCorruptError, match=r"has no collection 'lookalike_0_v_gone'.*Rebuild the index"):
        load_backend(
            VectorSpec("milvus", {**params, "collection": "lookalike_0_v_gone"}), tmp_path / "idx" / "v-2", None
        )
    with pytest.raises(MilvusError, match=r"a server's URL .* or a Milvus Lite folder ending in .db"):
        new_backend(VectorSpec("milvus", {"uri": "ftp://host/x"}), 8)


@pytest.mark.slow  # a second process holds the database
def test_milvus_lite_held_by_another_process_is_refused_with_the_reason(tmp_path):
    db = tmp_path / "held.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pymilvus import MilvusClient; MilvusClient({str(db)!r}); print('open', flush=True); input()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(MilvusError, match="another process may be using it"):
            _committed(tmp_path / "idx", "v-1", uri=str(db))
    finally:
        holder.communicate("\n", timeout=30)


def test_the_settings_name_milvus_and_its_uri(tmp_path):
    assert CatalogSettings(vector_index="milvus").vectors == "milvus"
    assert CatalogSettings(vector_index="milvus", milvus_uri="http://db:19530").vectors == "milvus:http://db:19530"
    assert spec_for(10, "milvus:http://db:19530") == VectorSpec("milvus", {"uri": "http://db:19530"})
    assert spec_for(10, "milvus:rel/x.db").params["uri"].endswith("/rel/x.db")  # relative to the caller: made absolute
