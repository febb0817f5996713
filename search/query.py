"""What a shopper asks besides the photo: a region of it, words, filters; checked and read here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from core.errors import LookalikeError
from core.images import ImageInput
from core.types import Filters

# A price phrase among the words: "under 300", "below $50", "over 1,000". It is a filter, not words to match.
PRICE_PHRASE = re.compile(r"\b(under|below|less than|cheaper than|up to|at most|over|above|more than|at least)"
                          r"\s*[$€£¥]?\s*(\d[\d,]*(?:\.\d+)?)", re.IGNORECASE)
AT_MOST = ("under", "below", "less than", "cheaper than", "up to", "at most")
MIN_BOX_SIDE = 4  # pixels: a smaller region holds nothing an encoder can see


class QueryError(LookalikeError, ValueError):
    """A search asked for something that cannot be searched; the message says what and why."""


@dataclass(frozen=True, eq=False)
class Query:
    photo: ImageInput
    top_k: int | None = None  # None: the settings'
    conf: float | None = None
    box: tuple[float, float, float, float] | None = None  # pixel xyxy of the photo: search this region alone
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
        raise QueryError(f"min_price ({filters.min_price:g}) is above max_price ({filters.max_price:g}).")
    return filters


def check_box(box, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """`box` as whole pixels inside a photo of `size` (width, height); QueryError when it is not a region of it."""
    width, height = size
    if not (isinstance(box, (list, tuple)) and len(box) == 4 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)):
        raise QueryError(f"box must be four numbers [x1, y1, x2, y2] in pixels of the photo; got {box!r}.")
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    x1, x2 = max(0, min(x1, width)), max(0, min(x2, width))
    y1, y2 = max(0, min(y1, height)), max(0, min(y2, height))
    if x2 - x1 < MIN_BOX_SIDE or y2 - y1 < MIN_BOX_SIDE:
        raise QueryError(f"box {list(box)} leaves no region of the {width}x{height} photo of at least "
                         f"{MIN_BOX_SIDE}x{MIN_BOX_SIDE} pixels; give [x1, y1, x2, y2] with x1 < x2 and y1 < y2.")
    return x1, y1, x2, y2
