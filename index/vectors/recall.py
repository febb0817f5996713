"""How much of the exact answer an approximate backend finds, measured when an index is built."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .backend import VectorBackend, VectorSpec
from .faiss import exact

log = logging.getLogger(__name__)
RECALL_CHUNK = 100_000  # catalog vectors held at once while recall is measured
RECALL_FLOOR = 0.95


def commit_measured(vectors: VectorBackend, folder: Path) -> VectorSpec:
    """Write `vectors` into the version `folder`: its spec for the manifest, with the recall@10 of an
    approximate backend against exact search (`recall_at_10`), which is warned of under RECALL_FLOOR."""
    params = vectors.commit(folder)
    if vectors.approximate:
        recall = round(recall_at_10(vectors), 4)
        params["recall_at_10"] = recall
        if recall < RECALL_FLOOR:
            log.warning(
                "The approximate index finds %.2f of the 10 nearest products of a sample (under %.2f): "
                "searches may miss close matches. Build it exact with LOOKALIKE_VECTOR_INDEX=exact.",
                recall,
                RECALL_FLOOR,
            )
    return VectorSpec(vectors.kind, params)


def recall_at_10(vectors: VectorBackend, sample: int = 1000, seed: int = 0) -> float:
    """The share of the 10 exact nearest rows that `vectors` returns, on average, for `sample` of its
    own vectors as queries (rows 0 to N - 1): 1.0 for an exact backend."""
    count = len(vectors)
    k = min(10, count)
    queries = vectors.sample(np.random.default_rng(seed).choice(count, size=min(sample, count), replace=False))
    _, found = vectors.search(queries, k)
    best: tuple[np.ndarray, np.ndarray] = (
        np.full((len(queries), 0), -np.inf, np.float32),
        np.zeros((len(queries), 0), np.int64),
    )
    for start in range(0, count, RECALL_CHUNK):  # the exact answer, a chunk of the catalog at a time
        part = np.arange(start, min(start + RECALL_CHUNK, count), dtype=np.int64)
        scores, rows = (np.hstack(pair) for pair in zip(best, exact(vectors.sample(part), part, queries, k)))
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(scores, top, 1), np.take_along_axis(rows, top, 1)
    return float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, best[1])]))
