"""bench.scale: each vector backend over clustered vectors, timed, sized and scored against exact search."""

import json

import numpy as np

from bench.scale import clustered, main
from index.vectors.backends import BACKENDS


def test_every_backend_is_measured_at_each_size_and_dimension(tmp_path, capsys):
    out = tmp_path / "scale.json"
    assert main(["--sizes", "300,600", "--dims", "16", "--out", str(out)]) == 0
    results = json.loads(out.read_text())["results"]
    assert {(r["size"], r["backend"]) for r in results} == {(n, b) for n in (300, 600) for b in BACKENDS}
    for r in results:
        for part in ("all", "kind_5pct"):
            assert 0.5 < r[part]["recall_at_10"] <= 1.0 and r[part]["ms_per_query"] > 0
        assert r["index_bytes"] >= r["size"] * 16 * 4  # at least the raw float32 vectors
    exact = [r for r in results if r["backend"] == "faiss-flat-ip"]
    assert all(r["all"]["recall_at_10"] == r["kind_5pct"]["recall_at_10"] == 1.0 for r in exact)
    assert "600 x 16" in capsys.readouterr().out


def test_benchmark_vectors_are_clustered_around_their_seeds():
    rng = np.random.default_rng(0)
    seeds = rng.normal(size=(20, 32)).astype(np.float32)
    vectors = clustered(seeds, 2000, 16, rng)
    assert vectors.shape == (2000, 16) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Near neighbours are much nearer than random pairs, as in a catalog of a few kinds of things.
    similarity = vectors[:200] @ vectors.T
    np.fill_diagonal(similarity[:, :200], -1)
    assert np.median(similarity.max(axis=1)) > np.median(similarity) + 0.3
