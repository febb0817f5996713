"""Where a catalog comes from, how it is read, and which of its columns holds each product field."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from core.errors import LookalikeError

# Tried in order, case-insensitively, when a column is not named explicitly.
# Product feeds' names are among them: Google Merchant Center (`image_link`, `additional_image_link`,
# `title`, `link`, `price` as "12.00 USD", `product_type`, `google_product_category`) and Shopify's
# export (`Handle`, `Title`, `Type`, `Variant Price`, `Image Src`).
COLUMN_CANDIDATES = {
    "image": ("image", "image_path", "image_link", "image_url", "image src", "file_name", "img", "path", "picture"),
    "id": ("product_id", "id", "sku", "article_number", "item_id", "handle"),
    "name": ("name", "title", "product_name", "product_title", "item_name", "item_name_en"),
    "category": ("category", "type", "product_type", "google_product_category", "class", "label"),
    "price": ("price", "price_usd", "price_eur", "price_gbp", "price_hkd", "sale_price", "variant price"),
    "link": ("url", "link", "product_url", "href"),
    "popularity": ("popularity", "rating", "average_rating", "avg_rating", "stars", "rating_count", "num_ratings"),
    "more_images": ("additional_image_link", "additional_image_links", "additional_images", "more_images"),
}
MANIFEST_NAMES = ("metadata.csv", "metadata.jsonl", "products.csv", "products.jsonl")


class CatalogError(LookalikeError):
    """The catalog source cannot be read or lacks what an index needs."""


@dataclass(frozen=True)
class CatalogSource:
    """Where a catalog was read from, as an index's manifest records it."""

    type: str  # "hub", "local" (a CSV/JSONL manifest), "disk" (a save_to_disk folder), "dataset" (in memory)
    id: str | None = None  # hub: the dataset id
    path: str | None = None  # local, disk: the absolute path
    split: str | None = None  # hub, disk
    revision: str | None = None  # hub: the commit indexed, where it could be resolved
    fingerprint: str | None = None  # dataset
    config: str | None = None  # hub: the dataset's configuration, when not its default
    kept: str | None = None  # the rows kept ("column=value,value"), when not all
    credit: str | None = None  # the catalog's attribution and license (Markdown), shown on the page
    limit: int | None = None  # the cap on the products taken, when there was one
    name: str | None = None  # the catalog's name for people, where one was given

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def is_named_by(self, catalog: str) -> bool:
        """Whether the catalog setting (Hub id, folder or manifest path) names this source."""
        if self.type == "hub":
            return catalog == self.id
        if self.type in ("local", "disk"):
            recorded = Path(self.path or "")
            given = Path(catalog).expanduser().resolve()
            # A folder holding products.csv (or another manifest) names the same catalog as the file.
            return given == recorded or (self.type == "local" and given == recorded.parent)
        return False

    @property
    def title(self) -> str:
        """A short name for people: the name given, else the Hub id, or the catalog's folder or file name."""
        if self.name:
            return self.name
        if self.type == "hub":
            return self.id or "the Hub"
        path = Path(self.path or "catalog")
        return path.parent.name if path.name in MANIFEST_NAMES else path.name

    def describe(self) -> str:
        return f"the Hub dataset {self.id}" if self.type == "hub" else str(self.path or self.type)


@dataclass(frozen=True)
class Reading:
    """How a catalog is read beyond which column is which."""

    split: str = "train"  # Hub datasets and datasets folders
    revision: str | None = None  # Hub datasets
    config: str | None = None  # Hub datasets: a configuration (subset) other than the default
    keep: tuple[str, tuple[str, ...]] | None = None  # (column, values): only rows with one of these values
    # A link where no column has one, made from the row's columns: (None, {"": template}) for every
    # row, or (column, {value: template}) by the row's value of that column (no template: no link).
    links: tuple[str | None, Mapping[str, str]] | None = None
    credit: str | None = None  # recorded in the index and shown on the page
    # Images stored elsewhere, by id: (configuration or dataset, the row's column, that table's column).
    images: tuple[str, str, str] | None = None
    prefer: tuple[str, tuple[str, ...]] | None = None  # (column, values): these rows first when the cap chooses
    limit: int = 0  # products taken, spread over the categories (index.catalog.selection); 0: all
    name: str | None = None  # the catalog's name for people, shown on the page

    @classmethod
    def from_settings(cls, settings, split: str = "train", revision: str | None = None) -> Reading:
        """How `settings` (core.settings.CatalogSettings) say the catalog is read."""
        return cls(
            split,
            revision,
            settings.catalog_config or None,
            settings.keep_rows,
            settings.link_templates,
            settings.catalog_credit or None,
            settings.image_reference,
            settings.preferred_rows,
            settings.catalog_limit,
            settings.catalog_name or None,
        )


@dataclass(frozen=True)
class ColumnMap:
    """Which catalog column holds each product field; None means work it out from the column names."""

    image: str | None = None
    id: str | None = None
    name: str | None = None
    category: str | None = None
    price: str | None = None
    link: str | None = None
    popularity: str | None = None
    more_images: str | None = None  # further photos of the product: a list, or links separated by commas
    # The other columns whose words text search reads (colour, material, description...); None: every
    # column that holds words rather than numbers, paths or links.
    text: tuple[str, ...] | None = None

    def resolve(self, columns: list[str]) -> dict[str, str | None]:
        by_lower = {c.lower(): c for c in columns}
        resolved = {}
        for f in fields(self):
            if f.name == "text":
                continue
            given = getattr(self, f.name)
            if given is not None and given not in columns:
                raise CatalogError(f"The catalog has no column {given!r} (for {f.name}); it has {columns}.")
            resolved[f.name] = given or next((by_lower[c] for c in COLUMN_CANDIDATES[f.name] if c in by_lower), None)
        if resolved["image"] is None:
            raise CatalogError(
                f"No image column found among {columns}; name it with --image-column "
                f"(or, for images stored by id elsewhere, LOOKALIKE_CATALOG_IMAGES)."
            )
        for column in self.text or ():
            if column not in columns:
                raise CatalogError(f"The catalog has no column {column!r} (for text); it has {columns}.")
        return resolved


def template_fields(links: tuple[str | None, Mapping[str, str]] | None) -> set[str]:
    """The columns the link templates fill in ({item_id})."""
    return {
        f for template in (links[1].values() if links else ()) for _, f, _, _ in string.Formatter().parse(template) if f
    }


def link_columns(links: tuple[str | None, Mapping[str, str]] | None) -> set[str]:
    """Every column a link reading needs: the templates' fields, and the column choosing the template."""
    return template_fields(links) | ({links[0]} if links and links[0] else set())


def recorded_reading(reading: Reading) -> dict:
    """What the manifest records of how the catalog was read."""
    kept = f"{reading.keep[0]}={','.join(reading.keep[1])}" if reading.keep else None
    return {
        "config": reading.config,
        "kept": kept,
        "credit": reading.credit,
        "limit": reading.limit or None,
        "name": reading.name,
    }
