"""Full-text search over the catalog's own words (name, category and its other text columns), by SQLite FTS5.

BM25 ranking, Unicode-aware tokens without accents, English stemming (Porter: "armchairs" finds
"armchair"). Built in memory when an index is loaded, on a thread of its own, so that a photo search
need not wait for it: about 6 ms per thousand products (6 s at a million); a text search waits.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Sequence

import numpy as np

from core.types import Product

TOKEN = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer keeps as a word
# English words that join a shopper's phrase ("this, but in green", "like this with a lid") and name no
# product: matched, they lift every product whose description uses them (measured: bench.refine).
FILLER = frozenset(
    [
        "a",
        "an",
        "and",
        "any",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "its",
        "like",
        "look",
        "looking",
        "me",
        "more",
        "my",
        "of",
        "on",
        "one",
        "or",
        "same",
        "similar",
        "so",
        "some",
        "something",
        "than",
        "that",
        "the",
        "this",
        "those",
        "to",
        "want",
        "with",
        "without",
    ]
)


class TextIndex:
    def __init__(self, products: Sequence[Product]):
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._lock = threading.Lock()  # held while it is filled, and by each search
        self._db.execute(
            "CREATE VIRTUAL TABLE products USING fts5(words, tokenize='porter unicode61 remove_diacritics 2')"
        )
        self._lock.acquire()  # released by the filling thread, so that no search runs before it is filled
        threading.Thread(target=self._fill, args=(products,), name="text-index", daemon=True).start()

    def _fill(self, products: Sequence[Product]) -> None:
        try:
            self._db.executemany(
                "INSERT INTO products(rowid, words) VALUES (?, ?)",
                ((p.row, " ".join(w for w in (p.name, p.category, *p.attributes.values()) if w)) for p in products),
            )
            self._db.commit()
        finally:
            self._lock.release()

    def search(self, words: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The rows whose text holds any of `words`, best first, and their relevance in (0, 1]; empty
        when no word is found.

        Products holding more of the words rank first ("grey sofa": the grey sofas, then the rest);
        among those holding as many, each word counts alike, as its BM25 over its best: a word half the
        catalog holds ("sofa") counts as much as a rare one ("grey"), which plain BM25 would leave to
        decide alone. Relevance is (words held - 1 + their mean) / words asked, over the best's: for one
        word, its BM25 over the best's.
        """
        tokens = self._tokens(words)
        if not tokens:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        held: dict[int, list[float]] = {}
        for rows, scores in self._each(tokens):
            for row, score in zip(rows, scores / max(scores[0], 1e-12) if len(scores) else scores):
                held.setdefault(int(row), []).append(float(score))
        if not held:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        rows = np.fromiter(held, np.int64, len(held))
        relevance = np.array([(len(s) - 1 + sum(s) / len(s)) / len(tokens) for s in held.values()], np.float64)
        order = np.lexsort((rows, -relevance))[:limit]
        return rows[order], relevance[order] / relevance[order[0]]

    def unknown(self, words: str) -> list[str]:
        """The words no product's text holds ("bookcase" in a catalog without one)."""
        tokens = self._tokens(words)
        return [t for t, (rows, _) in zip(tokens, self._each(tokens)) if not len(rows)]

    def _tokens(self, words: str) -> list[str]:
        tokens = TOKEN.findall(words.lower())
        return list(dict.fromkeys([t for t in tokens if t not in FILLER] or tokens))  # filler alone is still searched

    def _each(self, tokens: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each token's rows, best first, and their BM25."""
        sql = "SELECT rowid, -bm25(products) FROM products WHERE products MATCH ? ORDER BY bm25(products)"
        found = []
        with self._lock:
            for token in tokens:
                hits = self._db.execute(sql, (f'"{token}"',)).fetchall()  # quoted: a word, never an operator
                found.append((np.array([r for r, _ in hits], np.int64), np.array([s for _, s in hits], np.float64)))
        return found
