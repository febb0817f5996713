"""Scene-level retrieval metrics for the "scenes -> products" quality benchmark.

A scene (a room photo) has a ground-truth set of product ids. Running the engine
on it yields several queries (one per detected object, or one for the whole
photo), each a ranked list of product ids, best first. Every metric here scores
the scene as a whole, so a product counts as found if any query returns it.

Scenes with an empty ground truth have no defined recall or AP: the scene-level
functions reject them and ``RetrievalScores`` leaves them out of those means
(they still count towards ``distinct@K``, where extra results are pure noise).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field

Ranking = Sequence[str]


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _check_relevant(relevant: Set[str]) -> None:
    if not relevant:
        raise ValueError("ground truth is empty: recall and AP are undefined")


def _check_rankings(rankings: Sequence[Ranking]) -> None:
    # A bare list of ids instead of a list of rankings would silently be read
    # as one query per id, each a string of characters.
    if isinstance(rankings, str) or any(isinstance(r, str) for r in rankings):
        raise TypeError("rankings must be a sequence of rankings (sequences of ids)")


def top_k_union(rankings: Sequence[Ranking], k: int) -> set[str]:
    """Ids that appear in the top ``k`` of at least one query."""
    _check_k(k)
    _check_rankings(rankings)
    return {pid for ranking in rankings for pid in ranking[:k]}


def scene_hits(rankings: Sequence[Ranking], relevant: Set[str], k: int) -> int:
    """Number of ground-truth ids found in the top ``k`` of any query."""
    return sum(1 for pid in top_k_union(rankings, k) if pid in relevant)


def scene_recall(rankings: Sequence[Ranking], relevant: Set[str], k: int) -> float:
    """|GT ∩ union of the top-k of every query| / |GT|; 0.0 when there are no queries."""
    _check_relevant(relevant)
    return scene_hits(rankings, relevant, k) / len(relevant)


def distinct_at(rankings: Sequence[Ranking], k: int) -> int:
    """How many distinct ids the scene shows when each query shows its top ``k``."""
    return len(top_k_union(rankings, k))


def merge_rankings(rankings: Sequence[Ranking]) -> list[str]:
    """Merge per-query rankings into one ranked list for AP.

    Rule: interleave rank by rank, in query order -- rank 1 of query 0, rank 1
    of query 1, ..., then rank 2 of query 0, rank 2 of query 1, ... -- skipping
    queries that have run out, and drop any id already placed (the first
    occurrence wins). E.g. [[x, a], [x, b]] -> [x, a, b].

    Interleaving treats the queries as equally trusted, which matches how the
    results are shown (one strip per detected object).
    """
    _check_rankings(rankings)
    merged: list[str] = []
    seen: set[str] = set()
    depth = max((len(ranking) for ranking in rankings), default=0)
    for rank in range(depth):
        for ranking in rankings:
            if rank < len(ranking) and ranking[rank] not in seen:
                seen.add(ranking[rank])
                merged.append(ranking[rank])
    return merged


def average_precision(rankings: Sequence[Ranking], relevant: Set[str]) -> float:
    """AP of the merged list (see ``merge_rankings``).

    AP = (1/|GT|) * sum of precision@i over the positions i (1-based) of the
    merged list that hold a ground-truth id. Dividing by |GT| rather than by
    the number of hits makes ground-truth ids that were never returned count 0.
    """
    _check_relevant(relevant)
    hits = 0
    total = 0.0
    for i, pid in enumerate(merge_rankings(rankings), start=1):
        if pid in relevant:
            hits += 1
            total += hits / i
    return total / len(relevant)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


@dataclass
class RetrievalScores:
    """Accumulates scenes, then summarises them for any set of cut-offs.

    Scenes are stored whole (copied, so later changes by the caller don't leak
    in) because ``summary`` takes its ``ks`` only at the end.
    """

    _scenes: list[tuple[tuple[tuple[str, ...], ...], frozenset[str]]] = field(
        default_factory=list, init=False, repr=False
    )

    def add(self, rankings: Sequence[Ranking], relevant: Set[str]) -> None:
        _check_rankings(rankings)
        self._scenes.append((tuple(tuple(ranking) for ranking in rankings), frozenset(relevant)))

    def summary(self, ks: Sequence[int] = (1, 5, 10, 20)) -> dict[str, float]:
        """Metrics over the scenes added so far.

        Keys, for every k in ``ks``: ``recall@k`` (hits / ground-truth ids,
        pooled over the scenes with a non-empty ground truth: the share of
        ground-truth products found), ``scene_recall@k`` (the same per scene,
        then averaged, so small scenes weigh as much as big ones),
        ``distinct@k`` (mean over all scenes); then ``map`` (mean AP over
        scenes with a non-empty ground truth), ``scenes`` (all scenes added)
        and ``scored_scenes`` (those with a non-empty ground truth, the
        denominator of ``scene_recall`` and ``map``).

        Raises ValueError if no scene has a non-empty ground truth.
        """
        scored = [(rankings, relevant) for rankings, relevant in self._scenes if relevant]
        if not scored:
            raise ValueError("no scene with a non-empty ground truth to score")
        total_relevant = sum(len(relevant) for _, relevant in scored)

        out: dict[str, float] = {}
        for k in ks:
            hits = sum(scene_hits(r, gt, k) for r, gt in scored)
            out[f"recall@{k}"] = hits / total_relevant
        for k in ks:
            out[f"scene_recall@{k}"] = _mean(scene_recall(r, gt, k) for r, gt in scored)
        for k in ks:
            out[f"distinct@{k}"] = _mean(distinct_at(r, k) for r, _ in self._scenes)
        out["map"] = _mean(average_precision(r, gt) for r, gt in scored)
        out["scenes"] = len(self._scenes)
        out["scored_scenes"] = len(scored)
        return out
