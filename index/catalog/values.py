"""A catalog cell's value as a product field: text, a price, a number, a web link; and what a column holds."""

from __future__ import annotations

import math
import re

TEXT_SAMPLE = 200  # rows looked at to tell which other columns hold words
# A price with its currency, as feeds write it: "12.00 USD", "USD 12.00", "1,299 HKD".
MONEY = re.compile(r"(?:([A-Z]{3})\s*)?([-+]?\d[\d,]*(?:\.\d+)?)(?:\s*([A-Z]{3}))?")


def kind_of_values(values: list) -> str:
    """A column's type as its values show it: text, number, list, record, image..."""
    value = next((v for v in values if v not in (None, "")), None)
    if value is None:
        return "empty"
    if is_multilingual(value):
        return "text by language"
    return {
        str: "text",
        int: "number",
        float: "number",
        bool: "yes/no",
        list: "list",
        dict: "record",
        bytes: "bytes",
    }.get(type(value), type(value).__name__)


def as_text(value) -> str | None:
    if is_multilingual(value):
        value = in_english(value)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def is_multilingual(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "value" in v for v in value)


def in_english(values: list[dict]):
    """ABO's multilingual fields are lists of {"language_tag", "value"}: the English value, else the first."""
    english = [v["value"] for v in values if str(v.get("language_tag", "")).lower().startswith("en")]
    return english[0] if english else values[0]["value"]


def parse_price(value, currency: str | None = None) -> float | str | None:
    """A number, where the value is an amount in the catalog's currency; else the text as it is
    (shown, but outside every price range)."""
    text = as_text(value)
    money = parse_money(text)
    if money is None or (money[1] and money[1] != currency):
        return text
    return money[0]


def parse_money(text: str | None) -> tuple[float, str | None] | None:
    """(amount, currency code or None) of "12.00 USD", "USD 12.00", "1,299" or 12.5; None for other text."""
    found = MONEY.fullmatch(text.strip()) if text else None
    if not found or (found[1] and found[3]):
        return None
    return float(found[2].replace(",", "")), found[1] or found[3]


def as_number(value) -> float | None:
    price = parse_price(value)
    return price if isinstance(price, float) and math.isfinite(price) else None


def column_names(rows) -> list[str]:
    return list(rows.column_names) if hasattr(rows, "column_names") else list(rows[0].keys())


def whole_column(rows, column: str | None) -> list:
    """Every row's value of `column` (None for every row when there is no such column)."""
    if column is None:
        return [None] * len(rows)
    if hasattr(rows, "select_columns"):  # a datasets.Dataset: read this column alone, decoding no image
        return rows.select_columns([column])[column]
    return [row.get(column) for row in rows]


def column_sample(rows, column: str) -> list:
    """The first rows' values of `column`."""
    if hasattr(rows, "select_columns"):  # a datasets.Dataset: read this column alone, decoding no image
        return rows.select_columns([column])[:TEXT_SAMPLE][column]
    return [row.get(column) for row in rows[:TEXT_SAMPLE]]


def holds_words(rows, column: str) -> bool:
    """Whether `column` holds words: text with letters, not numbers, paths, links or file names."""
    sample = [in_english(v) if is_multilingual(v) else v for v in column_sample(rows, column)]
    texts = [v.strip() for v in sample if isinstance(v, str) and v.strip()]
    if not texts or len(texts) < len([v for v in sample if v not in (None, "")]):  # not every value is text
        return False
    words = [
        t
        for t in texts
        if re.search(r"[^\W\d_]", t)
        and not _looks_like_a_path(t)
        and as_number(t) is None
        and not _looks_like_a_code(t)
    ]
    return len(words) >= 0.9 * len(texts)


def _looks_like_a_code(text: str) -> bool:
    """An identifier such as an image id ("81iZlv3bjpL"): one token of letters and digits; or data
    such as JSON."""
    return bool(re.fullmatch(r"[\w-]+", text) and re.search(r"\d", text)) or text.startswith(("{", "["))


def _looks_like_a_path(text: str) -> bool:
    return "://" in text or "/" in text or "\\" in text or bool(re.fullmatch(r"\S+\.[A-Za-z0-9]{2,5}", text))


def web_link(value) -> str | None:
    # Only web links: a catalog must not be able to put javascript: or file: links on the page.
    text = as_text(value)
    return text if text and text.lower().startswith(("https://", "http://")) else None
