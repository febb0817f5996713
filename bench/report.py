"""Scoring one benchmark column, and the readable table of a quality run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field

from .metrics import Ranking, RetrievalScores, top_k_union

KS = (1, 5, 10, 20)
KIND_DEPTH = 10
PIPELINES = (("engine", "engine"), ("whole_photo", "whole photo"))
# Why a ground-truth product was not among the engine's top K, checked in this order.
MISSES = {
    "no_class": "have no detector class",
    "class_not_detected": "class not detected",
    "other_kind": "searched under another kind",
    "ranked_below": "ranked below {k}",
}


@dataclass
class ColumnScores:
    """One ground-truth column: the engine's and the whole-photo baseline's rankings, how many
    ground-truth products had their class found by the detector, and why the others were missed."""

    engine: RetrievalScores = field(default_factory=RetrievalScores)
    whole_photo: RetrievalScores = field(default_factory=RetrievalScores)
    class_found: list[tuple[int, int]] = field(default_factory=list)  # per scored scene: (found, ground truth)
    misses: Counter = field(default_factory=Counter)  # MISSES key -> ground-truth products, at depth K
    # Per scored scene: the mean over its objects of the share of each one's top KIND_DEPTH products that are
    # of a kind of the scene's ground truth (what a visitor sees: chairs for a photo of a chair).
    kind_precision: list[float] = field(default_factory=list)
    first_kind_precision: list[float] = field(default_factory=list)  # the same of its first object (tab) alone
    depth: int = max(KS)

    def add(
        self,
        engine: Sequence[Ranking],
        whole_photo: Sequence[Ranking],
        relevant: Set[str],
        labels: Set[str],
        classes: Mapping[str, str] | None,
        kinds: Mapping[str, Set[str]] | None = None,
        product_kinds: Mapping[str, Set[str]] | None = None,
    ) -> None:
        """One scene: its rankings, its ground truth, the labels the engine detected, product -> class,
        product -> the kinds it is searched under (None when the engine searches everything), and
        product -> its kinds in the index (None without kinds)."""
        self.engine.add(engine, relevant)
        self.whole_photo.add(whole_photo, relevant)
        if relevant and engine and product_kinds is not None:
            self.kind_precision.append(kind_precision(engine, relevant, product_kinds))
            first = next(([ranking] for ranking in engine if ranking), [])
            self.first_kind_precision.append(kind_precision(first, relevant, product_kinds))
        if relevant and classes is not None:
            self.class_found.append((sum(classes.get(p) in labels for p in relevant), len(relevant)))
            shown = top_k_union(engine, self.depth)
            self.misses.update(_miss(p, classes.get(p), labels, kinds) for p in relevant - shown)

    def summary(self, ks: Sequence[int] = KS) -> dict:
        out = self.engine.summary(ks)
        if self.class_found:
            total = sum(n for _, n in self.class_found)
            # Pooled, like recall@K; per scene beside it, like scene_recall@K.
            out["class_found"] = sum(f for f, _ in self.class_found) / total
            out["scene_class_found"] = sum(f / n for f, n in self.class_found) / len(self.class_found)
            # Shares of all ground-truth products: with recall@depth they add up to 1.
            out[f"misses@{self.depth}"] = {key: self.misses[key] / total for key in MISSES}
        if self.kind_precision:
            out[f"kind_precision@{KIND_DEPTH}"] = sum(self.kind_precision) / len(self.kind_precision)
            out[f"first_kind_precision@{KIND_DEPTH}"] = sum(self.first_kind_precision) / len(self.first_kind_precision)
        out["whole_photo"] = self.whole_photo.summary(ks)
        return out


def format_table(results: Mapping[str, dict], ks: Sequence[int] = KS) -> str:
    """A fixed-width table: one row per ground-truth column and pipeline."""
    heads = [f"R@{k}" for k in ks] + ["mAP"] + [f"d@{k}" for k in ks if k > 1]
    heads += ["class", f"kind@{KIND_DEPTH}", f"1st@{KIND_DEPTH}"]
    width = max([len("ground truth")] + [len(c) for c in results])
    lines = [f"{'ground truth':<{width}}  {'pipeline':<11}" + "".join(f"{h:>8}" for h in heads)]
    for column, scores in results.items():
        for key, name in PIPELINES:
            row = scores if key == "engine" else scores[key]
            cells = [f"{row[f'recall@{k}']:.3f}" for k in ks] + [f"{row['map']:.3f}"]
            cells += [f"{row[f'distinct@{k}']:.1f}" for k in ks if k > 1]
            cells.append(f"{row['class_found']:.3f}" if "class_found" in row else "-")
            for measure in (f"kind_precision@{KIND_DEPTH}", f"first_kind_precision@{KIND_DEPTH}"):
                kind = row.get(measure)
                cells.append(f"{kind:.3f}" if kind is not None else "-")
            label = column if key == "engine" else ""
            lines.append(f"{label:<{width}}  {name:<11}" + "".join(f"{c:>8}" for c in cells))
        lines.append(f"{'':<{width}}  {scores['scored_scenes']} of {scores['scenes']} scenes scored")
        for key in (k for k in scores if k.startswith("misses@")):
            depth = key.partition("@")[2]
            parts = [f"{share:.3f} {MISSES[name].format(k=depth)}" for name, share in scores[key].items()]
            lines.append(f"{'':<{width}}  missed at {depth}: " + ", ".join(parts))
    return "\n".join(lines)


def kind_precision(rankings: Sequence[Ranking], relevant: Set[str], kinds: Mapping[str, Set[str]]) -> float:
    """The mean over `rankings` (one per object) of the share of its top KIND_DEPTH that are of a kind of a
    `relevant` product; a product of no kind is of none."""
    wanted = set().union(*(kinds.get(product, set()) for product in relevant))
    shares = [
        sum(bool(kinds.get(product, set()) & wanted) for product in ranking[:KIND_DEPTH]) / len(ranking[:KIND_DEPTH])
        for ranking in rankings
        if ranking
    ]
    return sum(shares) / len(shares) if shares else 0.0


def _miss(product: str, cls: str | None, labels: Set[str], kinds: Mapping[str, Set[str]] | None) -> str:
    if not cls:
        return "no_class"
    if cls not in labels:
        return "class_not_detected"
    if kinds is not None and cls not in kinds.get(product, ()):
        return "other_kind"
    return "ranked_below"
