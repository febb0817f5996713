"""Which rows a capped build takes: the same ones on every run, spread over the product types.

The first N rows of a catalog are often one type (listings sorted by category, or by date): a cap
takes the types in turn instead, so that 2,000 products of 40 types are about 50 of each, and a
type with fewer gives its share to the others. Rows whose image cannot be read are replaced by the
next the cap would take (`ranking`), so that a cap of N gives N products where N rows have images.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Hashable, Sequence


def stable_key(text: str) -> str:
    """An order for rows that does not depend on where they sit in the catalog: a hash of their id."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def spread(
    categories: Sequence[str | None], keys: Sequence[Hashable], limit: int, preferred: Sequence[bool] | None = None
) -> list[int]:
    """The indices (ascending) of at most `limit` rows, taken from each category in turn (categories
    in name order, uncategorised rows as one more), within a category preferred rows first, then by `keys`."""
    if limit <= 0 or limit >= len(categories):
        return list(range(len(categories)))
    return sorted(ranking(categories, keys, preferred)[:limit])


def ranking(
    categories: Sequence[str | None], keys: Sequence[Hashable], preferred: Sequence[bool] | None = None
) -> list[int]:
    """Every row's index in the order the cap takes them (`spread`): a cap of N takes the first N, and a row
    whose image fails is replaced by the next."""
    queues: dict[str, list[int]] = defaultdict(list)
    for i, category in enumerate(categories):
        queues[category or ""].append(i)
    order = [
        sorted(rows, key=lambda i: (not (preferred and preferred[i]), keys[i])) for _, rows in sorted(queues.items())
    ]
    return [rows[depth] for depth in range(max(map(len, order), default=0)) for rows in order if depth < len(rows)]
