"""Which detector class ("kind") each catalog product is, read from the catalog's own category text.

A detected chair should be matched against the shop's chairs, not its rugs: the engine searches
each object among the products of its kind. The kind comes from the category column a catalog
already has ("Three-seat sofa", "Coffee table", "chairs"), through rules that map phrases to
detector class names. The rules match the head of the category phrase, the part that names the
thing: "Coffee table" is a table, but "Table lamp" is a lamp and "Chair pad" a pad. A product's
kind is a fact of the catalog: worked out when the index is built and stored with it (`kinds.json`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import LookalikeError

# COCO class -> English phrases that name it at the end of a product category. Shops selling
# other things, or writing in another language, pass their own rules (`load_kind_rules`).
DEFAULT_KIND_RULES: dict[str, tuple[str, ...]] = {
    "couch": ("sofa", "couch", "settee", "loveseat", "futon", "sofa bed", "sofabed", "chaise longue"),
    "chair": ("chair", "armchair", "swivelchair", "highchair", "recliner", "stool"),
    "bed": ("bed", "bed frame", "bed base", "daybed", "sofabed", "cot", "crib"),
    "dining table": ("table", "desk"),
    "bench": ("bench",),
    "potted plant": ("plant", "plant pot", "planter"),
    "vase": ("vase",),
    "clock": ("clock",),
    "bowl": ("bowl",),
    "cup": ("cup", "mug", "glass", "tumbler"),  # COCO's cups include drinking glasses; its wine glass has a stem
    "wine glass": ("wine glass",),
    "teddy bear": ("teddy bear", "soft toy"),
    "sink": ("sink", "basin"),
    "oven": ("oven",),
    "microwave": ("microwave", "microwave oven", "microwave combi"),
    "refrigerator": ("refrigerator", "fridge", "freezer"),
    "toilet": ("toilet",),
    "tv": ("tv", "television"),
}

# Words that end the head phrase: "Bed frame with storage" -> "bed frame".
_QUALIFIER = re.compile(r",\s|\s(?:with|w|and|for|on|in)\s|\+|\(")
# The same for the catalog's own kinds, which also end at "of" and at any comma or slash:
# "Chest of 3 drawers" -> "chest", "Rug,flatwoven" -> "rug".
_HEAD_END = re.compile(r",|/|\s(?:with|w|and|for|on|in|of)\s|\+|\(")


class KindRulesError(LookalikeError):
    """The kind rules cannot be read."""


@dataclass(frozen=True)
class KindRules:
    """Phrases (word tuples) per detector class; a category is of a class when its head ends with one."""

    phrases: Mapping[str, tuple[tuple[str, ...], ...]]

    @classmethod
    def from_mapping(cls, rules: Mapping[str, Iterable[str]]) -> KindRules:
        return cls({kind: tuple(_words(p) for p in phrases) for kind, phrases in rules.items()})

    @property
    def sha256(self) -> str:
        """What identifies these rules: an index records it, so that other rules mean another index."""
        canonical = {kind: sorted(" ".join(p) for p in phrases) for kind, phrases in self.phrases.items()}
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()

    def kinds_of(self, category: str | None) -> frozenset[str]:
        """The detector classes a product of this `category` is (usually one, none when unknown)."""
        if not category:
            return frozenset()
        found = set()
        head = _QUALIFIER.split(category.lower(), maxsplit=1)[0]
        for alternative in head.split(","):  # "Floor,reading lamp": the catalog's "Floor/reading lamp"
            words = _words(alternative)
            for kind, phrases in self.phrases.items():
                if any(p and words[-len(p) :] == p for p in phrases):
                    found.add(kind)
        return frozenset(found)


def load_kind_rules(source: str | Path | None) -> KindRules:
    """`None`/"" for the default rules, else a JSON file `{"class": ["phrase", ...], ...}`."""
    if not source:
        return KindRules.from_mapping(DEFAULT_KIND_RULES)
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KindRulesError(f"Cannot read the kind rules {source}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise KindRulesError(f"{source} must hold a JSON object of class name -> list of phrases.")
    return KindRules.from_mapping(data)


def category_noun(category: str | None) -> str:
    """The word that names what a product is: the last word of its category's head phrase, singular.

    "Rug, flatwoven" -> "rug", "Chest of 3 drawers" -> "chest", "Glass-door cabinets" -> "cabinet";
    "" for no category. It only has to be the same for products of one kind, in any language.
    """
    if not category:
        return ""
    words = _words(_HEAD_END.split(category.lower(), maxsplit=1)[0])
    return words[-1] if words else ""


class ProductKinds:
    """The kind of each catalog product, and the rows of the products of each kind.

    A product whose category names a detector class is of that kind. One whose category names
    none ("Rug", "Pendant lamp") is of the catalog's own kind `category_noun(category)`, in
    `others`: the detector cannot see those, so the engine looks for them in the photo itself.
    A product with no category at all could be anything: it takes part in every detector kind's
    search, so a half-filled category column hides nothing.
    """

    def __init__(self, of_row: Sequence[frozenset[str]], own_of_row: Sequence[str], uncategorised: Sequence[int]):
        """By row: each product's detector classes, its own kind ("" for none), and the rows without a category."""
        # Rows are grouped by their distinct kinds, a few dozen, not walked one by one: a million load in a second.
        distinct: dict[frozenset[str], int] = {}
        codes = np.fromiter((distinct.setdefault(frozenset(k), len(distinct)) for k in of_row), np.int64, len(of_row))
        classes = list(distinct)
        self.of_row = [classes[code] for code in codes.tolist()]
        self.uncategorised = sorted(int(row) for row in uncategorised)
        found: dict[str, list[np.ndarray]] = {}
        for kinds, rows in zip(classes, _groups(codes, len(classes))):
            for kind in kinds:
                found.setdefault(kind, []).append(rows)
        extra = np.array(self.uncategorised, np.int64)
        self.rows = {kind: np.union1d(np.concatenate(parts), extra).astype(np.int64) for kind, parts in found.items()}
        self.own_of_row = [str(noun or "") for noun in own_of_row]  # each row's own kind, "" for none
        nouns: dict[str, int] = {}
        codes = np.fromiter((nouns.setdefault(n, len(nouns)) for n in self.own_of_row), np.int64, len(self.own_of_row))
        self.others = {noun: rows for noun, rows in sorted(zip(nouns, _groups(codes, len(nouns)))) if noun}

    @classmethod
    def of_categories(cls, categories: Sequence[str | None], rules: KindRules) -> ProductKinds:
        """The kinds of products of these `categories` (by row) under `rules`."""
        of_row = [rules.kinds_of(c) for c in categories]
        own = ["" if kinds else category_noun(c) for kinds, c in zip(of_row, categories)]
        return cls(of_row, own, [row for row, c in enumerate(categories) if not (c and c.strip())])

    def to_json(self) -> str:
        return json.dumps(
            {
                "classes": [sorted(kinds) for kinds in self.of_row],
                "own": self.own_of_row,
                "uncategorised": self.uncategorised,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> ProductKinds:
        """What `to_json` wrote; ValueError, KeyError or TypeError when it is not that."""
        data = json.loads(text)
        if len(data["classes"]) != len(data["own"]):
            raise ValueError("the classes and own kinds of the rows differ in number")
        return cls(data["classes"], data["own"], data["uncategorised"])

    @property
    def classes(self) -> tuple[str, ...]:
        """The detector classes this catalog has products of."""
        return tuple(sorted(self.rows))

    @property
    def words(self) -> tuple[str, ...]:
        """Every kind the catalog sells, as an open-vocabulary detector is told them: the classes, then its own."""
        return self.classes + tuple(self.others)

    def rows_of(self, kind: str) -> np.ndarray:
        """The rows of the products of `kind`, a detector class or one of the catalog's own kinds."""
        return self.rows[kind] if kind in self.rows else self.others[kind]

    def is_of(self, row: int, kind: str) -> bool:
        return kind in self.of_row[row] or self.own_of_row[row] == kind

    def kinds_of(self, row: int) -> frozenset[str]:
        """Every kind of the product at `row`: its detector classes, or its own kind; none without a category."""
        own = self.own_of_row[row]
        return self.of_row[row] | {own} if own else self.of_row[row]

    def __contains__(self, kind: str) -> bool:
        """Whether `kind` is a detector class or one of the catalog's own kinds."""
        return kind in self.rows or kind in self.others

    def __len__(self) -> int:
        return len(self.rows)


def _groups(codes: np.ndarray, count: int) -> list[np.ndarray]:
    """The rows (ascending, int64) of each of `count` codes, by code."""
    order = np.argsort(codes, kind="stable")
    return np.split(order.astype(np.int64), np.cumsum(np.bincount(codes, minlength=count))[:-1])


def _words(text: str) -> tuple[str, ...]:
    # Hyphens split too, so "sofa-bed" ends with "bed" and "rocking-chair" with "chair".
    return tuple(_singular(w) for w in re.split(r"[\s\-]+", text.strip().lower()) if w)


def _singular(word: str) -> str:
    """Plural category names ("chairs", "sofas", "benches") to the singular the rules use."""
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word
