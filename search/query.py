"""What a shopper asks besides the photo: how many products, how sure, a region of it, words, filters.

Each request parameter is checked here once, for the app, its MCP tools, the CLI and the engine alike;
a value of the wrong kind or out of range is refused with a QueryError that says what it must be,
never rounded or clamped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from core.errors import LookalikeError
from core.images import ImageInput
from core.settings import MAX_TOP_K
from core.types import Filters, Where
from index.store.products import ProductTable

# A price phrase among the words: "under 300", "below $50", "over 1,000". It is a filter, not words to match.
PRICE_PHRASE = re.compile(
    r"\b(under|below|less than|cheaper than|up to|at most|over|above|more than|at least)"
    r"\s*[$€£¥]?\s*(\d[\d,]*(?:\.\d+)?)",
    re.IGNORECASE,
)
AT_MOST = ("under", "below", "less than", "cheaper than", "up to", "at most")
MIN_BOX_SIDE = 4  # pixels: a smaller region holds nothing an encoder can see
MIN_PHOTO_SIDE = 32  # pixels: a smaller photo holds no object a detector or an encoder can see (YOLO's stride)
MAX_WORDS = 200  # characters: a shopper's refinement, not a document


class QueryError(LookalikeError, ValueError):
    """A search asked for something that cannot be searched; the message says what and why."""


@dataclass(frozen=True, eq=False)
class Query:
    photo: ImageInput
    top_k: int | None = None  # None: the settings'
    conf: float | None = None
    box: tuple[float, ...] | None = None  # pixel xyxy of the photo, as sent (check_box checks it): search it alone
    words: str = ""  # refine every object's products: "in green", "velvet, under 300"
    filters: Filters = field(default_factory=Filters)


def split_price(words: str, filters: Filters) -> tuple[str, Filters]:
    """`words` without their price phrases, and `filters` with those prices where the filters set none."""
    low, high = filters.min_price, filters.max_price
    for phrase, amount in PRICE_PHRASE.findall(words):
        value = float(amount.replace(",", ""))
        if phrase.lower() in AT_MOST:
            high = value if high is None else high
        else:
            low = value if low is None else low
    return PRICE_PHRASE.sub(" ", words).strip(), replace(filters, min_price=low, max_price=high)


def check_filters(filters: Filters) -> Filters:
    for name in ("min_price", "max_price"):
        value = getattr(filters, name)
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise QueryError(f"{name} must be a number of at least 0; got {value!r}.")
    if filters.min_price is not None and filters.max_price is not None and filters.min_price > filters.max_price:
        raise QueryError(
            f"The lowest price ({amount(filters.min_price)}) is above the highest price "
            f"({amount(filters.max_price)}): no product can be both. Lower the one or raise the other."
        )
    return filters


def check_within(filters: Filters, table: ProductTable) -> None:
    """Refuse `filters` that keep none of the catalog's products, saying why in a shopper's words."""
    if not filters or table.count(Where.of(filters)):
        return
    prices = table.price_range(filters.categories)
    where = f" in {' or '.join(filters.categories)}" if filters.categories else ""
    known = (
        f": the catalog{where} lists no prices"
        if prices is None
        else f": the only price{where} is {amount(prices[0])}"
        if prices[0] == prices[1]
        else f": prices{where} go from {amount(prices[0])} to {amount(prices[1])}"
    )
    bound = price_words(filters.min_price, filters.max_price) or "within the filters"
    raise QueryError(f"No product of the catalog{where} is {bound}{known}.")


def price_words(low: float | None, high: float | None) -> str:
    """A price range as a shopper says it: "priced under 200", "priced from 100 to 200"; "" for none."""
    if low is not None and high is not None:
        return f"priced from {amount(low)} to {amount(high)}"
    if low is not None:
        return f"priced over {amount(low)}"
    return f"priced under {amount(high)}" if high is not None else ""


def check_photo_size(size: tuple[int, int]) -> None:
    if min(size) < MIN_PHOTO_SIDE:
        raise QueryError(
            f"This photo is only {size[0]}x{size[1]} pixels, too small to show an object: "
            f"use one of at least {MIN_PHOTO_SIDE} pixels a side."
        )


def amount(value: float) -> str:
    """A price as a shopper reads it: 1,000 or 12.50."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def check_box(box, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """`box` as whole pixels inside a photo of `size` (width, height); QueryError when it is not a region of it."""
    width, height = size
    if not (
        isinstance(box, (list, tuple))
        and len(box) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)
    ):
        raise QueryError(f"box must be four numbers [x1, y1, x2, y2] in pixels of the photo; got {box!r}.")
    x1, y1, x2, y2 = (round(v) for v in box)
    x1, x2 = max(0, min(x1, width)), max(0, min(x2, width))
    y1, y2 = max(0, min(y1, height)), max(0, min(y2, height))
    if x2 - x1 < MIN_BOX_SIDE or y2 - y1 < MIN_BOX_SIDE:
        raise QueryError(
            f"box {list(box)} leaves no region of the {width}x{height} photo of at least "
            f"{MIN_BOX_SIDE}x{MIN_BOX_SIDE} pixels; give [x1, y1, x2, y2] with x1 < x2 and y1 < y2."
        )
    return x1, y1, x2, y2


def check_top_k(top_k) -> int:
    if not (_is_number(top_k) and float(top_k).is_integer() and 1 <= top_k <= MAX_TOP_K):
        raise QueryError(f"top_k must be a whole number from 1 to {MAX_TOP_K}; got {_shown(top_k)}.")
    return int(top_k)


def check_conf(conf) -> float:
    if not (_is_number(conf) and 0 < conf <= 1):
        raise QueryError(f"conf must be a number above 0 and at most 1; got {_shown(conf)}.")
    return float(conf)


def check_words(words) -> str:
    if words is None:
        return ""
    if not isinstance(words, str):
        raise QueryError(f"words must be text; got {_shown(words)}.")
    if len(words) > MAX_WORDS:
        raise QueryError(f"words must be at most {MAX_WORDS} characters; got {len(words)}.")
    return words


def read_box(box) -> tuple[float, float, float, float] | None:
    """The region asked for: None for none (None, "" or []), else four numbers as sent, from a list or
    the text "x1, y1, x2, y2" (`check_box` then checks them against the photo)."""
    if box is None or box == "" or box == []:
        return None
    if isinstance(box, str):
        numbers = re.findall(r"-?\d+(?:\.\d+)?", box)
        box = [float(n) for n in numbers] if len(numbers) == 4 and not re.search(r"[^\d\s,.\-\[\]()]", box) else None
    if not (isinstance(box, (list, tuple)) and len(box) == 4 and all(_is_number(v) for v in box)):
        raise QueryError("box must be four numbers [x1, y1, x2, y2] in pixels of the photo, or empty.")
    x1, y1, x2, y2 = (float(v) for v in box)
    return x1, y1, x2, y2


def read_filters(category, min_price, max_price, categories: Sequence[str]) -> Filters:
    """The filters as a page or an API client sends them: a category (or a list of them) of the catalog's
    `categories`, and prices where empty or 0 means no bound."""
    chosen = [category] if isinstance(category, str) else category or []
    if not (isinstance(chosen, (list, tuple)) and all(isinstance(c, str) for c in chosen)):
        raise QueryError(f"category must be a category name or a list of them; got {_shown(category)}.")
    chosen = tuple(c for c in chosen if c)
    unknown = sorted(set(chosen) - set(categories))
    if unknown:
        raise QueryError(
            f"The catalog has no category {unknown[0]!r}; it has {len(categories)} categories, "
            f"e.g. {', '.join(categories[:5])}."
        )
    for name, value in (("min_price", min_price), ("max_price", max_price)):
        if value is not None and not (_is_number(value) and value >= 0):
            raise QueryError(f"{name} must be a number of at least 0, or empty; got {_shown(value)}.")
    # The page's empty number fields send 0: no price is a bound of 0.
    low, high = (None if value in (None, 0) else float(value) for value in (min_price, max_price))
    return check_filters(Filters(chosen, low, high))


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shown(value) -> str:
    # Numbers are quoted as sent; anything else only by its type, so a message never echoes a payload.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return f"a {type(value).__name__}"
