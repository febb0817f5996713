"""Search by words: the catalog's keyword ranking (BM25 over its text columns) and, with a CLIP-family
encoder, its text tower's ranking of the product photos, fused by rank."""

from __future__ import annotations

import time

import numpy as np

from core.protocols import ImageEncoder
from core.types import Filters, Match, TextResult, Where
from index.catalog_index import CatalogIndex
from index.store.text import TOKEN

from .fusion import fuse_rankings
from .query import QueryError, check_filters, check_within, check_words, split_price

# Text search fuses this many products of each ranking (keywords, and the text tower's where there is one).
TEXT_DEPTH = 100


def search_words(index: CatalogIndex, encoder: ImageEncoder, words: str, k: int, filters: Filters) -> TextResult:
    """The top `k` products of `index` for `words` among those `filters` keep ("under N" in the words sets a
    price bound); refused (QueryError) when the words hold nothing to search for."""
    t0 = time.perf_counter()
    words, filters = split_price(check_words(words), check_filters(filters))
    where = Where.of(filters)
    if not TOKEN.search(words):
        raise QueryError('Type some words to search for, e.g. "oak bookcase".')
    check_within(filters, index.table)
    named, relevance = index.table.text.search(words)
    rows = index.table.rows_where(where)
    if rows is not None:
        keep = np.isin(named, rows)
        named, relevance = named[keep], relevance[keep]
    rankings = [
        [
            Match(index.products[named[i]], float(relevance[i]))
            for i in _first_photos(named, index.table.ids, TEXT_DEPTH)
        ]
    ]
    matched_by = ["keywords"] if rankings[0] else []
    if encoder.reads_text:
        [by_photo] = index.search(encoder.embed_texts([words]), TEXT_DEPTH, where)
        rankings.append(by_photo)
        matched_by.append("photos")
    products = fuse_rankings([r for r in rankings if r], k)
    return TextResult(
        words,
        filters,
        products,
        tuple(matched_by),
        {"search": round((time.perf_counter() - t0) * 1000, 1)},
        tuple(index.table.text.unknown(words)),
    )


def _first_photos(rows: np.ndarray, ids: list[str], k: int) -> list[int]:
    """Where in `rows` each product's first photo is, for the first `k` products."""
    seen: set[str] = set()
    kept: list[int] = []
    for i, row in enumerate(rows.tolist()):
        if len(kept) == k:
            break
        if ids[row] not in seen:
            seen.add(ids[row])
            kept.append(i)
    return kept
