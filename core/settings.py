"""Every setting and its default, in one place: defaults < LOOKALIKE_* variables < flags.

The app, the CLIs, the benchmarks and the tests all build the pipeline from a `Settings`, so what
a test exercises is what the app serves. Values are checked when a `Settings` is made, and a bad
one is refused with a message that names the setting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from .errors import LookalikeError

DEFAULT_ENCODER = "openai/clip-vit-base-patch32"
# Amazon Berkeley Objects (CC BY 4.0), furniture and home goods: see README (The default catalog).
DEFAULT_CATALOG = "huggingface/amazon-berkeley-objects"
# ABO's product types that are furniture and home goods. Not checked against the mirror's data here
# (no Hub access): a build logs how many rows they kept and refuses a catalog left empty.
ABO_HOME_TYPES = (
    "CHAIR", "SOFA", "TABLE", "DESK", "BED", "OTTOMAN", "BENCH", "STOOL_SEATING", "CABINET", "DRESSER", "SHELF",
    "FURNITURE", "HOME_FURNITURE_AND_DECOR", "LAMP", "LIGHT_FIXTURE", "RUG", "MIRROR", "PILLOW", "BLANKET", "VASE",
    "PLANTER", "CLOCK", "WALL_ART", "CURTAIN", "BASKET",
)
# How the default catalog is read, for each of these settings left empty.
DEFAULT_CATALOG_READING = {
    "catalog_keep": "product_type=" + ",".join(ABO_HOME_TYPES),
    "link_template": "https://www.amazon.com/dp/{item_id}",
    "catalog_credit": "[Amazon Berkeley Objects](https://amazon-berkeley-objects.s3.amazonaws.com/index.html) "
                      "© Amazon.com, [CC BY 4.0](https://creativecommons.org/licenses/by/4.0/); "
                      "furniture and home goods selected",
}
# COCO classes that are things people buy for a home: what the detector keeps when the catalog
# gives no product kinds.
HOME_CLASSES = (
    "bench", "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv", "microwave",
    "oven", "sink", "refrigerator", "clock", "vase",
)
KINDS = ("category", "off")
CROP_STYLES = ("catalog", "box")  # catalog: square on the catalog's background; box: the padded box as is


class SettingsError(LookalikeError):
    """A setting has a value it cannot take."""


def cache_root(env=os.environ) -> Path:
    """Lookalike's folder in the user cache (`$XDG_CACHE_HOME` honoured)."""
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lookalike"


@dataclass(frozen=True)
class Settings:
    detector: str = "yolo11n.pt"  # YOLO weights: a local .pt or a name ultralytics fetches
    # YOLO weights that know the catalog's own kinds (`python -m train detector`), run beside the
    # detector at the size they were trained at; "": none.
    catalog_detector: str = ""
    encoder: str | None = None  # None: the encoder the index was built with; DEFAULT_ENCODER for a new one
    catalog: str = DEFAULT_CATALOG
    catalog_config: str = ""  # a Hub dataset's configuration (subset); "": its default
    # Rows kept: "column=value,value" (e.g. product_type=SOFA,CHAIR); "": every row.
    catalog_keep: str = ""
    # A product's link made from its columns where the catalog has no link column, e.g.
    # "https://www.amazon.com/dp/{item_id}"; "": none.
    link_template: str = ""
    catalog_credit: str = ""  # the catalog's attribution and license (Markdown), shown on the page
    index_dir: str = ""  # "": <user cache>/lookalike/index
    top_k: int = 10
    conf: float = 0.25
    iou: float = 0.5
    imgsz: int = 640  # the detector's input size: larger finds smaller objects, slower
    max_objects: int = 30  # per detection pass; low-confidence candidates need room (README: Quality)
    classes: str = ",".join(HOME_CLASSES)  # comma-separated detector class names, or "all"
    crop_padding: float = 0.05
    device: str | None = None  # None: cuda when present, else cpu
    max_pixels: int = 40_000_000  # well above any phone photo, far below what exhausts memory decoded
    threads: int = 0  # torch and faiss threads; 0: every core
    batch_size: int = 32  # catalog images embedded at once when building an index
    # Comma-separated catalog columns whose words text search reads besides the name and category;
    # "": every column that holds words (not numbers, paths or links).
    text_columns: str = ""
    # Retrieval quality (README: Quality); each measured on the ikea-interior benchmark.
    kinds: str = "category"  # "category": search each object among the catalog's products of its kind; "off"
    kind_rules: str = ""  # JSON file {"detector class": ["category phrase", ...]}; "": the built-in rules
    crop_style: str = "catalog"
    # With kinds, an object's score is the stronger of the detector's confidence and the catalog's
    # agreement: this weight times (11 - r) / 10, r the rank of the first product of its kind among
    # the crop's 10 nearest catalog products. Below 1, so that conf=1 lets nothing pass.
    catalog_weight: float = 0.8
    low_conf: float = 0.05  # with kinds, detections from here up are scored with the catalog's agreement
    group_objects: bool = True  # look-alike detections of one kind are one object with one product list
    detect_mirrored: bool = True  # also detect on the mirrored photo (twice the detection time)
    # With kinds: how many objects of the catalog's own kinds that no detector class covers (bookcases,
    # wardrobes, rugs...) each photo gets: found by the catalog detector first, then in the photo's regions. 0: none.
    other_kinds: int = 1
    # The whole photo is one more object when at most this many objects were found (0: only when
    # none was): a close-up of one product is then never worse than no detector.
    whole_photo_upto: int = 4
    # Shopper search (README: Search by words).
    # Words refining a photo search lift each product by this weight times its keyword relevance (BM25,
    # 1 for the best match in the catalog), on top of its similarity; chosen on bench.refine's tune half.
    words_weight: float = 0.4
    # A best match at least this close (0 to 1, on the index's own scale: index.calibration) is a close match.
    close_level: float = 0.5
    # Near-ties re-ranked by the catalog's rating or popularity column, when it has one: this weight
    # times the product's popularity percentile is added to its similarity. 0: off.
    popularity_weight: float = 0.0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            kind = _kind(f)
            if value is None and f.default is None:
                continue
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
            elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise SettingsError(f"{_name(f.name)} must be a {kind.__name__}, got {value!r}.")
        if self.catalog == DEFAULT_CATALOG:
            for name, value in DEFAULT_CATALOG_READING.items():
                if not getattr(self, name):
                    object.__setattr__(self, name, value)
        if not self.index_dir:
            object.__setattr__(self, "index_dir", str(cache_root() / "index"))
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if not (low <= value <= high):
                raise SettingsError(f"{_name(name)} must be between {low} and {high}, got {value!r}.")
        for name, choices in (("kinds", KINDS), ("crop_style", CROP_STYLES)):
            if getattr(self, name) not in choices:
                raise SettingsError(f"{_name(name)} must be one of {', '.join(choices)}, got {getattr(self, name)!r}.")
        self.keep_rows  # refuses a malformed value now, not at the next build
        if self.link_template and not self.link_template.startswith(("https://", "http://")):
            raise SettingsError(f"{_name('link_template')} must start with https:// or http://, "
                                f"got {self.link_template!r}.")
        if self.class_list == ():
            raise SettingsError(f"{_name('classes')} names no class; give class names or 'all'.")

    @property
    def class_list(self) -> tuple[str, ...] | None:
        """The detector classes to keep; None for all of them."""
        return None if self.classes.strip().lower() == "all" else tuple(
            c.strip() for c in self.classes.split(",") if c.strip()
        )

    @property
    def keep_rows(self) -> tuple[str, tuple[str, ...]] | None:
        """The catalog rows kept, as (column, values); None for every row."""
        if not self.catalog_keep.strip():
            return None
        column, _, values = self.catalog_keep.partition("=")
        kept = tuple(v.strip() for v in values.split(",") if v.strip())
        if not column.strip() or not kept:
            raise SettingsError(f"{_name('catalog_keep')} must be 'column=value,value', got {self.catalog_keep!r}.")
        return column.strip(), kept

    @property
    def text_column_list(self) -> tuple[str, ...] | None:
        """The text columns named, or None to find them in the catalog."""
        names = tuple(c.strip() for c in self.text_columns.split(",") if c.strip())
        return names or None

    @classmethod
    def from_env(cls, env=os.environ, **overrides) -> "Settings":
        """Defaults < LOOKALIKE_<NAME> environment variables < `overrides` that are not None."""
        values = {}
        for f in fields(cls):
            raw = env.get(_variable(f.name))
            if raw not in (None, ""):
                values[f.name] = parse_setting(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


# (setting, lowest, highest): checked when a Settings is made.
_RANGES = (
    ("top_k", 1, 1000), ("conf", 0.0, 1.0), ("iou", 0.0, 1.0), ("imgsz", 32, 4096), ("max_objects", 1, 1000),
    ("crop_padding", 0.0, 1.0), ("max_pixels", 1, 10**9), ("threads", 0, 1024), ("batch_size", 1, 4096),
    ("catalog_weight", 0.0, 0.99), ("low_conf", 0.0, 1.0), ("other_kinds", 0, 100), ("whole_photo_upto", 0, 1000),
    ("words_weight", 0.0, 10.0), ("close_level", 0.0, 1.0), ("popularity_weight", 0.0, 1.0),
)


def parse_setting(name: str, raw: str):
    """The value of setting `name` written as text (as in LOOKALIKE_<NAME>), of the setting's type."""
    by_name = {f.name: f for f in fields(Settings)}
    if name not in by_name:
        raise SettingsError(f"There is no setting {name!r}; the settings are {', '.join(by_name)}.")
    kind = _kind(by_name[name])
    text = raw.strip()
    if kind is bool:  # bool("false") is True
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{_variable(name)}={raw!r} is not a valid bool (true or false).")
    try:
        return kind(text) if kind is not str else raw
    except ValueError as exc:
        raise SettingsError(f"{_variable(name)}={raw!r} is not a valid {kind.__name__}.") from exc


def _kind(f) -> type:
    """A setting's type: its default's, or str where the default is None."""
    return str if f.default is None else type(f.default)


def _name(name: str) -> str:
    return f"The setting {name} ({_variable(name)})"


def _variable(name: str) -> str:
    return f"LOOKALIKE_{name.upper()}"
