"""One result per object in the room, not per box: look-alike detections of one kind become one group, and
boxes of different kinds over one thing become one object.

A dining set's four identical chairs, or one chair boxed twice, would otherwise show the same
products four times over. Detections of the same label whose nearest products largely agree are
one group, and the group's products are the best matches of any of its members. A stool boxed as a
chair and as a table, or a sofa as a couch and as a bed, is one thing: one box, one tab.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from core.boxes import overlap
from core.types import Match, ObjectResult

# Two detections are one object when at least SHARED of their top DEPTH products agree. Compared
# as ranks, not similarities, so the rule means the same for every encoder.
DEPTH = 10
SHARED = 3
# Two boxes of different kinds are over one thing when they overlap this much (IoU), or when the smaller is
# nearly all inside the larger (INSIDE) and not much smaller (ALIKE_SIZE): a stool boxed as a chair and as a
# table, a chair and the half of the photo it fills; not a cushion on a sofa. Chosen on the tune half of the
# ikea-interior scenes and real photos (docs/quality.md).
SAME_IOU = 0.7
INSIDE = 0.9
ALIKE_SIZE = 0.6


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


def one_per_thing(objects: Sequence[ObjectResult], k: int) -> list[ObjectResult]:
    """`objects` with the boxes over one thing made one object: the stronger witness's (its score) label and
    box, and the members' products taken by turns, best first (each list is its own kind's, so their
    similarities are not compared). `objects` are scored (not the whole photo); the order is kept."""
    kept: list[tuple[ObjectResult, list[ObjectResult]]] = []
    for obj in sorted(objects, key=lambda o: -(o.score or 0.0)):
        same = next((members for lead, members in kept if same_thing(lead.box, obj.box)), None)
        if same is None:
            kept.append((obj, [obj]))
        else:
            same.append(obj)
    merged = {id(lead): _merged(members, k) for lead, members in kept}
    return [merged[id(o)] for o in objects if id(o) in merged]


def same_thing(a, b) -> bool:
    """Whether boxes `a` and `b` (xyxy) are over one thing: much the same box, or one of like size inside the other."""
    iou, inside, size = overlap(a, b)
    return iou >= SAME_IOU or (inside >= INSIDE and size >= ALIKE_SIZE)


def _merged(members: list[ObjectResult], k: int) -> ObjectResult:
    if len(members) == 1:
        return members[0]
    turns: dict[str, Match] = {}
    for rank in range(max(len(m.products) for m in members)):
        for member in members:
            if rank < len(member.products):
                turns.setdefault(member.products[rank].product.id, member.products[rank])
    return replace(members[0], products=list(turns.values())[:k])
