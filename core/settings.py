"""Every setting and its default, in one place: defaults < LOOKALIKE_* variables < flags.

The app, the CLIs, the benchmarks and the tests all build the pipeline from a `Settings`, so what
a test exercises is what the app serves. Settings are grouped by what reads them (the catalog's,
the models', the search's), and each loader is given its group; each setting also has one flat name,
that of its LOOKALIKE_<NAME> variable. Values are checked when a group is made, and a bad one is
refused with a message that names the setting.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import LookalikeError

DEFAULT_ENCODER = "openai/clip-vit-base-patch32"
# Amazon Berkeley Objects (CC BY 4.0), furniture and home goods: see README (The default catalog).
DEFAULT_CATALOG = "huggingface/amazon-berkeley-objects"
# ABO's product types that are furniture and home goods (README: The default catalog, for how they
# were chosen); `python -m index inspect` counts the listings each keeps.
ABO_HOME_TYPES = (
    "BASKET", "BED", "BED_FRAME", "BENCH", "BLANKET", "BOOKCASE", "CABINET", "CHAIR", "CLOCK", "CURTAIN", "DESK",
    "DRESSER", "FURNITURE", "HEADBOARD", "HOME_BED_AND_BATH", "HOME_FURNITURE_AND_DECOR", "HOME_MIRROR", "LAMP",
    "LIGHT_FIXTURE", "MATTRESS", "MIRROR", "OTTOMAN", "PILLOW", "PLANTER", "RUG", "SHELF", "SOFA", "STOOL_SEATING",
    "TABLE", "VASE", "WALL_ART",
)
# The Amazon store of each marketplace (ABO's `country`): a listing links to its own store's page;
# one of a marketplace not named here gets no link rather than a guessed one.
ABO_STORES = {
    "US": "www.amazon.com", "GB": "www.amazon.co.uk", "CA": "www.amazon.ca", "AU": "www.amazon.com.au",
    "IN": "www.amazon.in", "SG": "www.amazon.sg", "AE": "www.amazon.ae", "SA": "www.amazon.sa",
    "DE": "www.amazon.de", "FR": "www.amazon.fr", "IT": "www.amazon.it", "ES": "www.amazon.es",
    "NL": "www.amazon.nl", "SE": "www.amazon.se", "PL": "www.amazon.pl", "TR": "www.amazon.com.tr",
    "MX": "www.amazon.com.mx", "BR": "www.amazon.com.br", "JP": "www.amazon.co.jp", "CN": "www.amazon.cn",
}
ABO_ENGLISH = ("US", "GB", "CA", "AU", "IN", "SG")  # marketplaces whose listings are written in English
# How the default catalog is read, for each of these settings left empty.
DEFAULT_CATALOG_READING = {
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
    "bench", "chair", "couch", "potted plant", "bed", "dining table", "toilet", "tv", "microwave",
    "oven", "sink", "refrigerator", "clock", "vase",
)
MAX_TOP_K = 30  # products per object a search may ask for: what a page can show


class SettingsError(LookalikeError):
    """A setting has a value it cannot take."""


def cache_root(env=os.environ) -> Path:
    """Lookalike's folder in the user cache (`$XDG_CACHE_HOME` honoured)."""
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lookalike"


VECTOR_INDEXES = ("auto", "exact", "hnsw", "milvus")
THUMBNAILS = ("copy", "link")
PRECISIONS = ("float32", "bfloat16")
RUNTIMES = ("auto", "onnx", "torch")


@dataclass(frozen=True)
class CatalogSettings:
    """What is indexed and how the catalog is read: `index/` reads these."""

    source: str = field(default=DEFAULT_CATALOG, metadata={"name": "catalog"})  # Hub id, folder or manifest file
    catalog_config: str = ""  # a Hub dataset's configuration (subset); "": its default
    # Images stored apart from the rows, by id: "CONFIG:column=column" (another configuration of the
    # dataset, e.g. "images_small:main_image_id=image_id") or "OWNER/NAME:column=column"; "": in the rows.
    catalog_images: str = ""
    # Rows kept: "column=value,value" (e.g. product_type=SOFA,CHAIR); "": every row.
    catalog_keep: str = ""
    # Rows taken first where the cap chooses: "column=value,value"; "": none.
    catalog_prefer: str = ""
    catalog_limit: int = 0  # at most this many products, spread over the categories; 0: all
    # A product's link made from its columns where the catalog has no link column, e.g.
    # "https://www.amazon.com/dp/{item_id}", or one per value of a column as JSON:
    # {"country": {"US": "https://www.amazon.com/dp/{item_id}", ...}}; "": none.
    link_template: str = ""
    catalog_credit: str = ""  # the catalog's attribution and license (Markdown), shown on the page
    catalog_name: str = ""  # the catalog's name for people ("IKEA Hong Kong"); "": its folder or Hub id
    index_dir: str = ""  # "": <user cache>/lookalike/index
    batch_size: int = 32  # catalog images embedded at once when building an index
    # How an index built from now on searches its vectors: "exact"; "hnsw", approximately (a FAISS HNSW
    # graph, its recall measured at build); "auto": exact up to 20,000 catalog photos (index.vectors);
    # "milvus": exactly, in Milvus at milvus_uri (index.milvus; pip install -r requirements-scale.txt).
    vector_index: str = "auto"
    # Where "milvus" keeps the vectors: a server's URL (http://host:19530; its token in $LOOKALIKE_MILVUS_TOKEN)
    # or a Milvus Lite folder ending in .db; "": milvus.db in the index directory.
    milvus_uri: str = ""
    # How an index built from now on keeps the thumbnails of a catalog whose images are web links: "copy", a
    # small JPEG of each in the index (about 9 KB a photo); "link", the link itself, which the page shows.
    thumbnails: str = "copy"
    # Comma-separated catalog columns whose words text search reads besides the name and category;
    # "": every column that holds words (not numbers, paths or links).
    text_columns: str = ""
    # JSON file {"detector class": ["category phrase", ...]} that gives each product its kind when the
    # index is built; "": the built-in rules (index.kinds).
    kind_rules: str = ""

    def __post_init__(self):
        _check(self)
        if self.vector_index not in VECTOR_INDEXES:
            raise SettingsError(f"{_name('vector_index')} must be one of {', '.join(VECTOR_INDEXES)}, "
                                f"got {self.vector_index!r}.")
        if self.thumbnails not in THUMBNAILS:
            raise SettingsError(f"{_name('thumbnails')} must be one of {', '.join(THUMBNAILS)}, "
                                f"got {self.thumbnails!r}.")
        if self.source == DEFAULT_CATALOG:
            for name, value in DEFAULT_CATALOG_READING.items():
                if not getattr(self, name):
                    object.__setattr__(self, name, value)
        if not self.index_dir:
            object.__setattr__(self, "index_dir", str(cache_root() / "index"))
        # Malformed values are refused now, not at the next build.
        self.keep_rows, self.preferred_rows, self.image_reference, self.link_templates

    @property
    def vectors(self) -> str:
        """How an index built now searches its vectors, as `index.build.build_index` takes it (`vector_index`)."""
        return f"milvus:{self.milvus_uri}" if self.vector_index == "milvus" and self.milvus_uri else self.vector_index

    @property
    def keep_rows(self) -> tuple[str, tuple[str, ...]] | None:
        """The catalog rows kept, as (column, values); None for every row."""
        return _column_values("catalog_keep", self.catalog_keep)

    @property
    def preferred_rows(self) -> tuple[str, tuple[str, ...]] | None:
        """The catalog rows a cap takes first, as (column, values); None for none."""
        return _column_values("catalog_prefer", self.catalog_prefer)

    @property
    def image_reference(self) -> tuple[str, str, str] | None:
        """(configuration or dataset, the row's column, its column) of images stored by id; None: in the rows."""
        if not self.catalog_images.strip():
            return None
        where, _, join = self.catalog_images.rpartition(":")
        left, _, right = join.partition("=")
        if not (where.strip() and left.strip() and right.strip()):
            raise SettingsError(f"{_name('catalog_images')} must be 'CONFIG:column=column' or "
                                f"'OWNER/NAME:column=column', got {self.catalog_images!r}.")
        return where.strip(), left.strip(), right.strip()

    @property
    def link_templates(self) -> tuple[str | None, dict[str, str]] | None:
        """(None, {"": template}) for one link template, (column, {value: template}) for one per value; None: none."""
        text = self.link_template.strip()
        if not text:
            return None
        if text.startswith("{"):
            try:
                [(column, templates)] = json.loads(text).items()
                assert isinstance(templates, dict) and all(isinstance(t, str) for t in templates.values())
            except (ValueError, AssertionError) as exc:
                raise SettingsError(f"{_name('link_template')} must be a link, or JSON "
                                    f'{{"column": {{"value": "link", ...}}}}, got {text[:80]!r}.') from exc
            found = (column, templates)
        else:
            found = (None, {"": text})
        for template in found[1].values():
            if not template.startswith(("https://", "http://")):
                raise SettingsError(f"{_name('link_template')}: a link must start with https:// or http://, "
                                    f"got {template!r}.")
        return found

    @property
    def text_column_list(self) -> tuple[str, ...] | None:
        """The text columns named, or None to find them in the catalog."""
        names = tuple(c.strip() for c in self.text_columns.split(",") if c.strip())
        return names or None


@dataclass(frozen=True)
class ModelSettings:
    """Which models run, where and how: the loaders in `models/` (and the index's, for its encoder) read these."""

    detector: str = "yolo11n.pt"  # YOLO weights: a local .pt or a name ultralytics fetches
    # YOLO weights that know the catalog's own kinds (`python -m train detector`), run beside the
    # detector at the size they were trained at; "": none.
    catalog_detector: str = ""
    encoder: str | None = None  # None: the encoder the index was built with; DEFAULT_ENCODER for a new one
    device: str | None = None  # None: cuda when present, else cpu
    threads: int = 0  # torch and faiss threads; 0: every core
    imgsz: int = 640  # the detector's input size: larger finds smaller objects, slower
    iou: float = 0.5  # the detector's NMS IoU
    max_objects: int = 30  # boxes per detection pass; low-confidence candidates need room (README: Quality)
    # The encoder's arithmetic: "float32"; or "bfloat16", 0.6x CLIP-B/32's time on a CPU with bf16
    # instructions (avx512_bf16, AMX), slower on one without, and answers that differ a little
    # (README: Speed and footprint).
    precision: str = "float32"
    # What runs the encoder's image pass on a CPU in float32: "onnx", ONNX Runtime (the graph exported
    # once into the user cache: the same embeddings, MobileNetV2's in 0.6x the time; README: Speed and
    # footprint), or PyTorch where onnxruntime is not installed or cannot run the model; "torch":
    # PyTorch; "auto": ONNX Runtime for a convolutional net, PyTorch for a transformer (3% faster only).
    runtime: str = "auto"

    def __post_init__(self):
        _check(self)
        if self.precision not in PRECISIONS:
            raise SettingsError(f"{_name('precision')} must be one of {', '.join(PRECISIONS)}, "
                                f"got {self.precision!r}.")
        if self.runtime not in RUNTIMES:
            raise SettingsError(f"{_name('runtime')} must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}.")


@dataclass(frozen=True)
class SearchSettings:
    """How a photo is searched, and each request's defaults: the engine (`search/`) reads these."""

    top_k: int = 10
    conf: float = 0.25
    max_pixels: int = 40_000_000  # well above any phone photo, far below what exhausts memory decoded
    # Comma-separated detector class names kept when the catalog gives no product kinds, or "all".
    classes: str = ",".join(HOME_CLASSES)
    crop_padding: float = 0.05
    # Retrieval quality (README: Quality); each measured on the ikea-interior benchmark.
    # With kinds, an object's score is the stronger of the detector's confidence and the catalog's
    # agreement: this weight times (11 - r) / 10, r the rank of the first product of its kind among
    # the crop's 10 nearest catalog products. Below 1, so that conf=1 lets nothing pass.
    catalog_weight: float = 0.8
    low_conf: float = 0.05  # with kinds, detections from here up are scored with the catalog's agreement
    # Also detect on the mirrored photo: finds more, for twice the detection time (a speed choice).
    detect_mirrored: bool = True
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
    # A best match at least this close (0 to 1, on the index's own scale: index.calibration) is a close
    # match; below it the page says "nothing close". Chosen on the tune half of the ikea-interior scenes
    # (README: "Nothing close"): at 0.5 two objects in five were called so, one in five of them wrongly.
    close_level: float = 0.3
    # Near-ties re-ranked by the catalog's rating or popularity column, when it has one: this weight
    # times the product's popularity percentile is added to its similarity. 0: off.
    popularity_weight: float = 0.0

    def __post_init__(self):
        _check(self)
        if self.class_list == ():
            raise SettingsError(f"{_name('classes')} names no class; give class names or 'all'.")

    @property
    def class_list(self) -> tuple[str, ...] | None:
        """The detector classes to keep; None for all of them."""
        return None if self.classes.strip().lower() == "all" else tuple(
            c.strip() for c in self.classes.split(",") if c.strip()
        )


GROUPS = {"catalog": CatalogSettings, "models": ModelSettings, "search": SearchSettings}


@dataclass(frozen=True)
class Settings:
    """Every setting, grouped by what reads it; each has one flat name (its LOOKALIKE_<NAME> variable)."""

    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    search: SearchSettings = field(default_factory=SearchSettings)

    @classmethod
    def of(cls, **values) -> "Settings":
        """Settings from flat names (`Settings.of(top_k=5, detector="yolo11n.pt")`), the rest at their defaults."""
        grouped: dict[str, dict] = {group: {} for group in GROUPS}
        for name, value in values.items():
            group, attribute = _place(name)
            grouped[group][attribute] = value
        return cls(**{group: GROUPS[group](**given) for group, given in grouped.items()})

    def flat(self) -> dict[str, object]:
        """Every setting by its flat name, e.g. for a benchmark's report."""
        return {name: getattr(getattr(self, group), attribute) for name, (group, attribute) in PLACES.items()}

    @classmethod
    def from_env(cls, env=os.environ, **overrides) -> "Settings":
        """Defaults < LOOKALIKE_<NAME> environment variables < `overrides` that are not None."""
        values = {}
        for name in NAMES:
            raw = env.get(_variable(name))
            if raw not in (None, ""):
                values[name] = parse_setting(name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.of(**values)


# (setting, lowest, highest): checked when a Settings is made.
_RANGES = (
    ("top_k", 1, MAX_TOP_K), ("conf", 0.0, 1.0), ("iou", 0.0, 1.0), ("imgsz", 32, 4096), ("max_objects", 1, 1000),
    ("crop_padding", 0.0, 1.0), ("max_pixels", 1, 10**9), ("threads", 0, 1024), ("batch_size", 1, 4096),
    ("catalog_limit", 0, 10**9),
    ("catalog_weight", 0.0, 0.99), ("low_conf", 0.0, 1.0), ("other_kinds", 0, 100), ("whole_photo_upto", 0, 1000),
    ("words_weight", 0.0, 10.0), ("close_level", 0.0, 1.0), ("popularity_weight", 0.0, 1.0),
)


def _flat_name(f) -> str:
    return f.metadata.get("name", f.name)


# Flat name -> (group, attribute), for every setting.
PLACES = {_flat_name(f): (group, f.name) for group, kind in GROUPS.items() for f in fields(kind)}
NAMES = tuple(PLACES)


def _place(name: str) -> tuple[str, str]:
    if name not in PLACES:
        raise SettingsError(f"There is no setting {name!r}; the settings are {', '.join(NAMES)}.")
    return PLACES[name]


def _column_values(name: str, text: str) -> tuple[str, tuple[str, ...]] | None:
    """A "column=value,value" setting as (column, values); None when empty."""
    if not text.strip():
        return None
    column, _, values = text.partition("=")
    found = tuple(v.strip() for v in values.split(",") if v.strip())
    if not column.strip() or not found:
        raise SettingsError(f"{_name(name)} must be 'column=value,value', got {text!r}.")
    return column.strip(), found


def _check(group) -> None:
    """Refuse a value of the wrong type or out of range, naming the setting; ints become floats where floats are due."""
    for f in fields(group):
        name, value, kind = _flat_name(f), getattr(group, f.name), _kind(f)
        if value is None and f.default is None:
            continue
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(group, f.name, float(value))
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SettingsError(f"{_name(name)} must be a {kind.__name__}, got {value!r}.")
    for name, low, high in _RANGES:
        group_name, attribute = PLACES[name]
        if isinstance(group, GROUPS[group_name]) and not (low <= getattr(group, attribute) <= high):
            raise SettingsError(f"{_name(name)} must be between {low} and {high}, got {getattr(group, attribute)!r}.")


def parse_setting(name: str, raw: str):
    """The value of setting `name` written as text (as in LOOKALIKE_<NAME>), of the setting's type."""
    group, attribute = _place(name)
    kind = _kind(next(f for f in fields(GROUPS[group]) if f.name == attribute))
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
