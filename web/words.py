"""The words a visitor reads: the headline, what a search found, each product's caption and detail.

Pure functions of the endpoints' answers (the page shows what the API returns); no Gradio here.
"""

from __future__ import annotations

import re
from collections import Counter

from core.types import SELECTION, WHOLE_PHOTO, Filters, Product
from index.store.kinds import category_noun
from search.query import amount, price_words
from search.starting import StartingEngine

WHOLE_PHOTO_LABEL = "Whole photo"
SELECTION_LABEL = "Your selection"
COLOURS = ("white", "black", "grey", "beige", "brown", "blue", "green", "red", "yellow", "pink", "oak", "walnut")


def catalog_headline(index) -> str:
    """What the page does and which catalog it searches, with the catalog's credit, in one line."""
    source = index.manifest.source
    products = index.table.distinct_products
    credit = f" ({source.credit})" if source.credit else ""  # the operator's Markdown, from the settings
    return (
        f"Find each piece of furniture in your photo among **{products:,} products of {md(source.title)}**"
        f"{credit}: upload a photo, try an example, or search by words."
    )


def words_example(products: list[Product]) -> str:
    """“white sofa”: the catalog's most common kind of product, in its most common colour."""
    nouns = Counter(category_noun(p.category) for p in products if p.category)
    nouns.pop("", None)
    text = " ".join(" ".join(filter(None, (p.name, *p.attributes.values()))) for p in products).lower()
    colours = Counter({c: n for c in COLOURS if (n := len(re.findall(rf"\b{c}\b", text)))})
    noun = nouns.most_common(1)[0][0] if nouns else "sofa"
    return f"e.g. “{colours.most_common(1)[0][0] + ' ' if colours else ''}{noun}”"


def not_ready_text(starting: StartingEngine) -> str:
    if starting.error:
        return f"Search is unavailable: {starting.error}"
    if starting.total and starting.done >= starting.total:
        return f"Still indexing the catalog: {starting.total:,} products embedded, finishing. Try again in a minute."
    if starting.total:
        return (
            f"Still indexing the catalog, {starting.share:.0%} done ({starting.done:,} of {starting.total:,} "
            f"products). Search opens when it is done; try again in a minute."
        )
    return "Still starting: reading the catalog and loading the models. Try again in a minute."


def photo_status(result, filters: Filters = Filters()) -> str:
    """What a photo search found, in a sentence or two; `filters`: the page's, which may have hidden objects."""
    if result.blank:
        return (
            "**This photo shows nothing to search:** it is plain, with no object or detail in it. "
            "Try a photo of a room or of a piece of furniture."
        )
    labels = [o.label for o in result.objects if o.label not in (WHOLE_PHOTO, SELECTION)]
    if result.objects[0].label == SELECTION:
        text = "**Your region was searched.**"
    elif result.hidden:
        text = _hidden_text(labels, result.hidden, filters)
    elif result.whole_image:
        text = (
            "**No furniture or home goods recognised, so the whole photo was searched.** "
            "Lower the detection confidence to find more objects."
        )
    else:
        n = len(labels)
        whole = " (and the whole photo)" if n < len(result.objects) else ""
        text = f"**Found {n} object{'s' if n != 1 else ''}{whole}.**"
    if labels:
        text += " Click a box in the photo, or a tab below, to see its matches."
    far = sum(o.close_match is False for o in result.objects)
    if far and far == len(result.objects):
        text += " **The catalog has nothing close to this:** the products below are the nearest it has, not matches."
    elif far:
        text += f" The catalog has nothing close to {far} of them (marked “nothing close”)."
    return text


def _hidden_text(shown: list[str], hidden: tuple[str, ...], filters: Filters) -> str:
    """“Showing the 2 chairs; 3 other objects (couch, bed, lamp) are hidden by the category filter.”"""
    only_categories = filters.categories and filters.min_price is None and filters.max_price is None
    by = "the category filter" if only_categories else "the filters"
    objects = f"object{'s' if len(hidden) != 1 else ''} ({', '.join(dict.fromkeys(hidden))})"
    if not shown:
        return (
            f"**None of the objects found is within the filters, so the whole photo was searched within them;** "
            f"{len(hidden)} {objects} hidden by {by}."
        )
    if len(shown) == 1:
        what = f"the {shown[0]}"
    elif len(set(shown)) == 1:
        what = f"the {len(shown)} {plural(shown[0])}"
    else:
        what = f"{len(shown)} objects"
    verb = "is" if len(hidden) == 1 else "are"
    return f"**Showing {what} within the filters;** {len(hidden)} other {objects} {verb} hidden by {by}."


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def text_status(result) -> str:
    """What a search by words found, in a sentence; a price bound of the words or the filters echoed."""
    found = len(result.products)
    bound = price_words(result.filters.min_price, result.filters.max_price)
    bound = f", {bound}" if bound else ""
    status = (
        f"**{found} product{'s' if found != 1 else ''} for “{md(result.words)}”{bound}.**"
        if found
        else f"**No product of the catalog matches “{md(result.words)}”{bound}.** Try other words, or a photo."
    )
    if found and result.unknown_words:
        unknown = " or ".join(f"“{md(w)}”" for w in result.unknown_words)
        status += f" Nothing in the catalog mentions {unknown}: these match the other words."
    return status


def timings_text(result) -> str:
    return " · ".join(f"{stage} {ms:.0f} ms" for stage, ms in result.timings_ms.items())


def object_label(i: int, label: str) -> str:
    return {WHOLE_PHOTO: WHOLE_PHOTO_LABEL, SELECTION: SELECTION_LABEL}.get(label) or box_label(i, label)


def box_label(i: int, name: str) -> str:
    return f"{i + 1} · {name}"


def shelves_of(data: dict | None, products: list[Product]) -> list[tuple[str, list[dict], dict]]:
    """What the result tabs show, read from an endpoint's JSON (the page shows what the API returns):
    (tab label, product dicts, the object's dict) per tab."""
    if not data:
        return []
    if "objects" not in data:  # /search_text: one list, when anything matched (its status says when not)
        return [(f"Words: {data['words']}", data["products"], {})] if data["products"] else []
    shelves = []
    for i, obj in enumerate(data["objects"]):
        label = object_label(i, obj["label"])
        if obj.get("close_match") is False:
            label += " · nothing close"
        shelves.append((label, obj["products"], obj))
    return shelves


def shelf_detail(shelf, currency: str | None) -> str:
    _, found, obj = shelf
    if not found:
        return "**No product of the catalog is within the filters.**"
    detail = product_detail(found[0], 0, currency)
    if obj.get("close_match") is False:
        return "**The catalog has nothing close to this;** these are the nearest it has. " + detail
    return detail  # "close" is not a promise that the first is the product (docs/app.md: "Nothing close")


def caption(product: dict, currency: str | None) -> str:
    # No number: the list's order is the ranking, and the tab says whether anything is close.
    parts = [product["name"] or product["category"] or f"#{product['id']}", price_text(product["price"], currency)]
    return " · ".join(p for p in parts if p)


def product_detail(product: dict, rank: int, currency: str | None) -> str:
    name = md(product["name"] or product["category"] or f"#{product['id']}")
    parts = [
        f"**{rank + 1}. {name}**",
        md(product["category"]) if product["name"] else None,
        md(price_text(product["price"], currency)),
        f"[Open the product page ↗]({md_url(product['link'])})" if product["link"] else None,
    ]
    return " · ".join(p for p in parts if p)


def price_text(price, currency: str | None) -> str | None:
    if price is None:
        return None
    if isinstance(price, (int, float)):
        return f"{currency} {amount(price)}" if currency else amount(price)
    return str(price)


def md(text: str | None) -> str | None:
    # Catalog text goes into Markdown: neutralise its syntax so a name cannot become a link or markup.
    return re.sub(r"([\\`*_\[\]()<>#|!])", r"\\\1", text) if text else text


def md_url(link: str) -> str:
    # Characters that would end a Markdown link destination early.
    return link.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
