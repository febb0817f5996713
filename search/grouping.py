"""One result per object in the room, not per box: look-alike detections of one kind become one group.

A dining set's four identical chairs, or one chair boxed twice, would otherwise show the same
products four times over. Detections of the same label whose nearest products largely agree are
one group, and the group's products are the best matches of any of its members.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.types import Match

# Two detections are one object when at least SHARED of their top DEPTH products agree. Compared
# as ranks, not similarities, so the rule means the same for every encoder.
DEPTH = 10
SHARED = 3


def group_lookalikes(labels: Sequence[str], ranked: Sequence[Sequence[Match]]) -> list[list[int]]:
    """Group detection indices (given best first) by their ranked matches; each group lists its members best first.

    A detection joins the first group of its label whose members' top-`DEPTH` products share at
    least `SHARED` with its own, else starts a group.
    """
    groups: list[tuple[str, list[int], set[int]]] = []
    for i, (label, found) in enumerate(zip(labels, ranked)):
        top = {m.product.row for m in found[:DEPTH]}
        for group_label, members, seen in groups:
            if group_label == label and len(top & seen) >= SHARED:
                members.append(i)
                seen |= top
                break
        else:
            groups.append((label, [i], top))
    return [members for _, members, _ in groups]


def fuse_best(
    ranked: Sequence[Sequence[Match]], k: int, key: Callable[[Match], float] = lambda m: m.score
) -> list[Match]:
    """The top `k` products of a group, each at its best `key` (the similarity) to any member.

    Exact when each member's list holds its own top `k`: a product outside all of them is beaten
    by `k` products in every member's list.
    """
    best: dict[str, Match] = {}
    for found in ranked:
        for match in found:
            product = match.product.id
            if product not in best or key(match) > key(best[product]):
                best[product] = match
    return sorted(best.values(), key=key, reverse=True)[:k]
