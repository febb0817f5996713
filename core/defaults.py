"""The defaults that are data: the default encoder and catalog (Amazon Berkeley Objects, and how it is read),
and the detector classes kept when a catalog gives its products no kinds."""

from __future__ import annotations

import json

DEFAULT_ENCODER = "openai/clip-vit-base-patch32"
# Amazon Berkeley Objects (CC BY 4.0), furniture and home goods: see docs/space.md (The default catalog).
DEFAULT_CATALOG = "huggingface/amazon-berkeley-objects"
# ABO's product types that are furniture and home goods (docs/space.md: The default catalog, for how they
# were chosen); `python -m index inspect` counts the listings each keeps.
ABO_HOME_TYPES = (
    "BASKET",
    "BED",
    "BED_FRAME",
    "BENCH",
    "BLANKET",
    "BOOKCASE",
    "CABINET",
    "CHAIR",
    "CLOCK",
    "CURTAIN",
    "DESK",
    "DRESSER",
    "FURNITURE",
    "HEADBOARD",
    "HOME_BED_AND_BATH",
    "HOME_FURNITURE_AND_DECOR",
    "HOME_MIRROR",
    "LAMP",
    "LIGHT_FIXTURE",
    "MATTRESS",
    "MIRROR",
    "OTTOMAN",
    "PILLOW",
    "PLANTER",
    "RUG",
    "SHELF",
    "SOFA",
    "STOOL_SEATING",
    "TABLE",
    "VASE",
    "WALL_ART",
)
# The Amazon store of each marketplace (ABO's `country`): a listing links to its own store's page;
# one of a marketplace not named here gets no link rather than a guessed one.
ABO_STORES = {
    "US": "www.amazon.com",
    "GB": "www.amazon.co.uk",
    "CA": "www.amazon.ca",
    "AU": "www.amazon.com.au",
    "IN": "www.amazon.in",
    "SG": "www.amazon.sg",
    "AE": "www.amazon.ae",
    "SA": "www.amazon.sa",
    "DE": "www.amazon.de",
    "FR": "www.amazon.fr",
    "IT": "www.amazon.it",
    "ES": "www.amazon.es",
    "NL": "www.amazon.nl",
    "SE": "www.amazon.se",
    "PL": "www.amazon.pl",
    "TR": "www.amazon.com.tr",
    "MX": "www.amazon.com.mx",
    "BR": "www.amazon.com.br",
    "JP": "www.amazon.co.jp",
    "CN": "www.amazon.cn",
}
ABO_ENGLISH = ("US", "GB", "CA", "AU", "IN", "SG")  # marketplaces whose listings are written in English
# How the default catalog is read, for each of these settings left empty.
DEFAULT_CATALOG_READING: dict[str, str | int] = {
    "catalog_name": "Amazon Berkeley Objects",
    "catalog_config": "listings",
    "catalog_images": "images_small:main_image_id=image_id",
    "catalog_keep": "product_type=" + ",".join(ABO_HOME_TYPES),
    "catalog_prefer": "country=" + ",".join(ABO_ENGLISH),
    # On a free CPU Space (2 vCPUs) CLIP B/32 indexes about 10 images/s: 2,000 is about 3-4 minutes.
    "catalog_limit": 2000,
    "text_columns": "brand_en,color_en",
    "link_template": json.dumps({"country": {c: f"https://{store}/dp/{{item_id}}" for c, store in ABO_STORES.items()}}),
    "catalog_credit": "[Amazon Berkeley Objects](https://amazon-berkeley-objects.s3.amazonaws.com/index.html) "
    "© Amazon.com, [CC BY 4.0](https://creativecommons.org/licenses/by/4.0/); "
    "furniture and home goods selected",
}
# COCO classes that are things people buy for a home: what the detector keeps when the catalog
# gives no product kinds.
HOME_CLASSES = (
    "bench",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "microwave",
    "oven",
    "sink",
    "refrigerator",
    "clock",
    "vase",
)
