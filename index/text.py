"""Full-text search over the catalog's own words (name, category and its other text columns), by SQLite FTS5.

BM25 ranking, Unicode-aware tokens without accents, English stemming (Porter: "armchairs" finds
"armchair"). Built in memory when an index is loaded: a few milliseconds per thousand products.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from typing import Sequence

import numpy as np

from core.types import Product

TOKEN = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer keeps as a word
# English words that join a shopper's phrase ("this, but in green", "like this with a lid") and name no
# product: matched, they lift every product whose description uses them (measured: bench.refine).
FILLER = frozenset("""a an and any as at but by for from in into is it its like look looking me more my of
on one or same similar so some something than that the this those to want with without""".split())


class TextIndex:
    def __init__(self, products: Sequence[Product]):
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("CREATE VIRTUAL TABLE products USING fts5(words, "
                         "tokenize='porter unicode61 remove_diacritics 2')")
        self._db.executemany("INSERT INTO products(rowid, words) VALUES (?, ?)",
                             ((p.row, " ".join(w for w in (p.name, p.category, *p.attributes.values()) if w))
                              for p in products))
        self._db.commit()

    def search(self, words: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The rows whose text holds any of `words`, best first, and their relevance in (0, 1] (BM25 over
        the best's); empty when no word is found. Products holding more of the words, and rarer ones, rank higher."""
        tokens = TOKEN.findall(words.lower())
        tokens = [t for t in tokens if t not in FILLER] or tokens  # words of filler alone are still searched
        if not tokens:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        query = " OR ".join(f'"{token}"' for token in dict.fromkeys(tokens))  # quoted: words, never operators
        sql = "SELECT rowid, -bm25(products) FROM products WHERE products MATCH ? ORDER BY bm25(products)"
        with self._lock:
            found = self._db.execute(sql + (f" LIMIT {int(limit)}" if limit else ""), (query,)).fetchall()
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        rows, scores = np.array([r for r, _ in found], np.int64), np.array([s for _, s in found], np.float64)
        return rows, scores / max(scores[0], 1e-12)
