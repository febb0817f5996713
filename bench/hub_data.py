"""The files of the local Hub's dataset repository: Amazon Berkeley Objects laid out as its Hub mirror is
documented (docs/space.md: The default catalog), generated deterministically and kept on disk.

A card naming two configurations: `listings` (no image; parquet shards) and `images_small` (`image_id`,
`path`, `height`, `width` and a `datasets.Image` column of small synthetic pictures), both written by
`datasets`' own `to_parquet`, so row groups are the size it makes them. At the real mirror's size
(`FULL`: 147,702 listings in 16 shards) it takes about a minute to generate; the folder is kept under the
cache, named by what made it, and the second start finds it.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import tempfile
from dataclasses import asdict, dataclass
from hashlib import sha1
from pathlib import Path

from core.defaults import ABO_HOME_TYPES
from core.paths import cache_root

GENERATOR = 1  # bumped when what is generated changes, so a cached mirror of an older layout is not served
OTHER_TYPES = ("CELLULAR_PHONE_CASE", "SHOES", "GROCERY", "HEALTH_PERSONAL_CARE", "OFFICE_PRODUCTS", "TOYS_AND_GAMES")
# About the shares of ABO's marketplaces; English ones first in the default reading.
COUNTRIES = ("US",) * 12 + ("GB", "IN", "CA", "AU", "SG", "DE", "FR", "IT", "ES", "NL", "MX", "AE", "JP", "TR")
COLOURS = ("Black", "White", "Grey", "Brown", "Walnut", "Blue", "Green", "Beige", "Red", "Gold")
BRANDS = ("Rivet", "Stone & Beam", "Ravenna Home", "AmazonBasics", "Movian", "Amazon Brand - Solimo")
PICTURES = 509  # distinct pictures at full size, cycled: their bytes are what matters to a benchmark
CARD = (
    "---\nlicense: cc-by-4.0\nconfigs:\n- config_name: listings\n  data_files:\n  - split: train\n"
    "    path: listings/*.parquet\n- config_name: images_small\n  data_files:\n  - split: train\n"
    "    path: images_small/*.parquet\n---\n# Amazon Berkeley Objects (a local stand-in of the Hub mirror)\n"
)


@dataclass(frozen=True)
class Mirror:
    """What is generated: `listings` rows in `shards` files of each configuration; one listing in
    `missing_every` has no image row (the join leaves it out); the image rows of `broken` listings hold
    no image (a product whose image fails); `picture_px`: the pictures' side."""

    listings: int = 400
    shards: int = 2
    missing_every: int = 97
    broken: tuple[str, ...] = ()
    picture_px: int = 256
    seed: int = 0

    def key(self) -> str:
        return sha1(json.dumps([GENERATOR, asdict(self)]).encode()).hexdigest()[:12]


FULL = Mirror(listings=147_702, shards=16)


def image_features():
    """The `images_small` configuration's columns, as the mirror is documented (256 px images by `image_id`)."""
    import datasets

    return datasets.Features(
        {
            "image_id": datasets.Value("string"),
            "path": datasets.Value("string"),
            "height": datasets.Value("int32"),
            "width": datasets.Value("int32"),
            "image": datasets.Image(),
        }
    )


def item_id(i: int) -> str:
    return f"B{i:09d}"


def image_id(i: int) -> str:
    return f"{i:08x}IMG"


def mirror_folder(mirror: Mirror, cache: Path | None = None) -> Path:
    """The folder holding `mirror`'s files, generated unless the cache holds it already."""
    root = (cache or cache_root() / "bench-hub").expanduser()
    folder = root / f"abo-{mirror.key()}"
    if (folder / "README.md").exists():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".abo-", dir=root))
    try:
        generate(mirror, staging)
        os.replace(staging, folder)  # whole or not at all: a killed generation is made again
    except OSError:
        if not (folder / "README.md").exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def generate(mirror: Mirror, folder: Path) -> None:
    import datasets

    rng = random.Random(mirror.seed)
    types = ABO_HOME_TYPES + OTHER_TYPES
    listings = [_listing(i, rng, types) for i in range(mirror.listings)]
    (folder / "README.md").write_text(CARD)
    for shard, part in enumerate(_split(listings, mirror.shards)):
        _write(datasets.Dataset.from_list(part), folder / "listings", "listings", shard, mirror.shards)
    features = image_features()
    pictures = [_picture(k, mirror.picture_px) for k in range(min(PICTURES, mirror.listings))]
    # The image table is sorted by id, not in the listings' order.
    kept = sorted((i for i in range(mirror.listings) if i % mirror.missing_every != 1), key=image_id)
    for shard, part in enumerate(_split(kept, mirror.shards)):
        rows = {
            "image_id": [image_id(i) for i in part],
            "path": [f"{i % 256:02x}/{image_id(i)}.jpg" for i in part],
            "height": [mirror.picture_px] * len(part),
            "width": [mirror.picture_px] * len(part),
            "image": [
                None if item_id(i) in mirror.broken else {"bytes": pictures[i % len(pictures)], "path": None}
                for i in part
            ],
        }
        _write(
            datasets.Dataset.from_dict(rows, features=features),
            folder / "images_small",
            "images_small",
            shard,
            mirror.shards,
        )


def _listing(i: int, rng: random.Random, types: tuple[str, ...]) -> dict:
    kind = rng.choice(types)
    country = rng.choice(COUNTRIES)
    brand, colour = rng.choice(BRANDS), rng.choice(COLOURS)
    return {
        "item_id": item_id(i),
        "item_name_en": f"{brand} {kind.replace('_', ' ').title()} {i}, {colour}",
        "brand_en": brand,
        "product_type": kind,
        "color_en": colour,
        "country": country,
        "main_image_id": image_id(i),
        "other_image_ids": [f"{i:08x}OTH"],
        "node_paths": [{"node_id": 1 + i % 50, "path": f"/Home/{kind.title()}"}],
        "raw_listing_json": json.dumps({"item_id": item_id(i), "item_keywords": [kind.lower(), colour.lower()]}),
    }


def _picture(k: int, px: int) -> bytes:
    """A small synthetic product photo: a coloured shape on white, as catalog photos are."""
    from PIL import Image, ImageDraw

    rng = random.Random(k)
    image = Image.new("RGB", (px, px), (255, 255, 255))
    colour = tuple(rng.randrange(256) for _ in range(3))
    box = [rng.randrange(px // 4), rng.randrange(px // 4), px - rng.randrange(px // 4), px - rng.randrange(px // 4)]
    draw = ImageDraw.Draw(image)
    (draw.ellipse if k % 2 else draw.rectangle)(box, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _split(items: list, shards: int) -> list[list]:
    size = -(-len(items) // shards)
    return [items[s * size : (s + 1) * size] for s in range(shards)]


def _write(dataset, folder: Path, name: str, shard: int, shards: int) -> None:
    folder.mkdir(exist_ok=True)
    dataset.to_parquet(folder / f"{name}-{shard:05d}-of-{shards:05d}.parquet")  # datasets' own row groups
