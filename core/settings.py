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

from .defaults import DEFAULT_CATALOG, DEFAULT_CATALOG_READING, DEFAULT_ENCODER, HOME_CLASSES
from .paths import cache_root
from .setting_fields import SettingsError, check, column_values, described, flat_name, kind_of, setting, variable

MAX_TOP_K = 30  # products per object a search may ask for: what a page can show

VECTOR_INDEXES = ("auto", "exact", "hnsw", "milvus")
THUMBNAILS = ("copy", "link")
PRECISIONS = ("float32", "bfloat16")
RUNTIMES = ("auto", "onnx", "torch")


@dataclass(frozen=True)
class CatalogSettings:
    """What is indexed and how the catalog is read: `index/` reads these."""

    source: str = setting(
        DEFAULT_CATALOG,
        "What is indexed: a Hub dataset id, a folder (holding `products.csv`, `metadata.csv` or "
        "a `.jsonl`, or saved by `save_to_disk`), or a CSV/JSONL manifest or feed. The app rebuilds an index "
        "that was built from another catalog.",
        name="catalog",
    )
    catalog_config: str = setting("", "A Hub dataset's configuration (subset). Empty: its default one.")
    catalog_images: str = setting(
        "",
        "Images stored apart from the rows, by id: `CONFIG:column=column` (another configuration of the "
        "dataset, e.g. `images_small:main_image_id=image_id`) or `OWNER/NAME:column=column` (another dataset). "
        "Empty: the images are in the rows.",
    )
    catalog_keep: str = setting(
        "", "The rows indexed: `column=value,value` (e.g. `product_type=SOFA,CHAIR`). Empty: every row."
    )
    catalog_prefer: str = setting(
        "", "Rows the cap (`catalog_limit`) takes first: `column=value,value`. Empty: none preferred."
    )
    catalog_limit: int = setting(
        0,
        "At most this many products, spread over the categories, the same on every run; a new cap rebuilds "
        "the app's index. `0`: all.",
        low=0,
        high=10**9,
    )
    link_template: str = setting(
        "",
        "A product's link, made from its columns where the catalog has no link column: a link with "
        "`{column}`s (`https://www.amazon.com/dp/{item_id}`), or one per value of a column as JSON "
        '`{"country": {"US": "https://www.amazon.com/dp/{item_id}", ...}}`. Empty: no link.',
    )
    catalog_credit: str = setting(
        "",
        "The catalog's attribution and license (Markdown), recorded in the index and shown on the page. Empty: none.",
    )
    catalog_name: str = setting(
        "",
        'The catalog\'s name for people ("IKEA Hong Kong"), recorded in the index and shown on the page. '
        "Empty: its folder or Hub id.",
    )
    index_dir: str = setting(
        "",
        "The index's folder, or an index on the Hub, `hf://datasets/OWNER/NAME@REVISION` (served as it is, "
        "never rebuilt). Empty: `lookalike/index` in `$XDG_CACHE_HOME` where it is set, else on a Space's persistent "
        "storage (`/data`) where it is writable, else in the user cache (`~/.cache`).",
    )
    batch_size: int = setting(32, "Catalog images embedded at once when building an index.", low=1, high=4096)
    hub_views: int = setting(
        1000,
        "An index built from now on measures each photo's hubness (how near it lies to shoppers' photos of other "
        "products, which search lowers: `hub_weight`) on one view in a room each of this many of its photos at most; "
        "about a minute for 1,000 on two CPU cores. The app measures it once for an index without. `0`: none.",
        low=0,
        high=100_000,
    )
    vector_index: str = setting(
        "auto",
        "How an index built from now on searches its vectors: `exact`; `hnsw`, approximately (a FAISS HNSW "
        "graph, its recall measured at build); `auto`, exactly up to 20,000 catalog photos, HNSW above "
        "(`index.vectors.backends`); `milvus`, exactly, in Milvus at `milvus_uri` (`index.vectors.milvus`; "
        "`pip install -r requirements-scale.txt`).",
        choices=VECTOR_INDEXES,
    )
    milvus_uri: str = setting(
        "",
        "Where `vector_index=milvus` keeps the vectors: a server's URL (`http://host:19530`; its token in "
        "`$LOOKALIKE_MILVUS_TOKEN`) or a Milvus Lite folder ending in `.db`. Empty: `milvus.db` in the index "
        "directory.",
    )
    thumbnails: str = setting(
        "copy",
        "How an index built from now on keeps the thumbnails of a catalog whose images are web links: "
        "`copy`, a small JPEG of each in the index (about 9 KB a photo); `link`, the link itself, which the page "
        "and the API show as it is (the shop's server then serves it).",
        choices=THUMBNAILS,
    )
    photo_share: float = setting(
        1.0,
        "The middle share of each catalog photo's sides that an index built from now on embeds (its thumbnail stays "
        "whole). 0.79 finds more real photos of one product and less of a room's furniture (docs/quality.md).",
        low=0.5,
        high=1.0,
    )
    close_up_share: float = setting(
        0.7,
        "The middle share of each catalog photo's sides embedded besides, with the hubness (`hub_views`): a photo of "
        "one product is matched against it, a room's object against it and the whole (docs/quality.md). `1`: none.",
        low=0.5,
        high=1.0,
    )
    text_columns: str = setting(
        "",
        "Comma-separated catalog columns whose words text search reads besides the name and the category "
        "(colour, material, description...). Empty: every column that holds words (not numbers, paths or links).",
    )
    kind_rules: str = setting(
        "",
        'A JSON file `{"detector class": ["category phrase", ...]}` that gives each product its kind when the '
        "index is built (for other shops or languages); naming other rules than an index was built with rebuilds "
        "it. Empty: the built-in rules (`index.store.kinds`).",
    )

    def __post_init__(self):
        check(self)
        if self.source == DEFAULT_CATALOG:
            for name, value in DEFAULT_CATALOG_READING.items():
                if not getattr(self, name):
                    object.__setattr__(self, name, value)
        if not self.index_dir:
            object.__setattr__(self, "index_dir", str(cache_root() / "index"))
        # Malformed values are refused now, not at the next build.
        _ = self.keep_rows, self.preferred_rows, self.image_reference, self.link_templates

    @property
    def vectors(self) -> str:
        """How an index built now searches its vectors (`vector_index`), as `index.builder.build` takes it."""
        return f"milvus:{self.milvus_uri}" if self.vector_index == "milvus" and self.milvus_uri else self.vector_index

    @property
    def keep_rows(self) -> tuple[str, tuple[str, ...]] | None:
        """The catalog rows kept, as (column, values); None for every row."""
        return column_values("catalog_keep", self.catalog_keep)

    @property
    def preferred_rows(self) -> tuple[str, tuple[str, ...]] | None:
        """The catalog rows a cap takes first, as (column, values); None for none."""
        return column_values("catalog_prefer", self.catalog_prefer)

    @property
    def image_reference(self) -> tuple[str, str, str] | None:
        """(configuration or dataset, the row's column, its column) of images stored by id; None: in the rows."""
        if not self.catalog_images.strip():
            return None
        where, _, join = self.catalog_images.rpartition(":")
        left, _, right = join.partition("=")
        if not (where.strip() and left.strip() and right.strip()):
            raise SettingsError(
                f"{described('catalog_images')} must be 'CONFIG:column=column' or "
                f"'OWNER/NAME:column=column', got {self.catalog_images!r}."
            )
        return where.strip(), left.strip(), right.strip()

    @property
    def link_templates(self) -> tuple[str | None, dict[str, str]] | None:
        """(None, {"": template}) for one link template, (column, {value: template}) for one per value; None: none."""
        text = self.link_template.strip()
        if not text:
            return None
        found: tuple[str | None, dict[str, str]] = (None, {"": text})
        if text.startswith("{"):
            try:
                [(column, templates)] = json.loads(text).items()
                assert isinstance(templates, dict) and all(isinstance(t, str) for t in templates.values())
            except (ValueError, AssertionError) as exc:
                raise SettingsError(
                    f"{described('link_template')} must be a link, or JSON "
                    f'{{"column": {{"value": "link", ...}}}}, got {text[:80]!r}.'
                ) from exc
            found = (column, templates)
        for template in found[1].values():
            if not template.startswith(("https://", "http://")):
                raise SettingsError(
                    f"{described('link_template')}: a link must start with https:// or http://, got {template!r}."
                )
        return found

    @property
    def text_column_list(self) -> tuple[str, ...] | None:
        """The text columns named, or None to find them in the catalog."""
        return tuple(c.strip() for c in self.text_columns.split(",") if c.strip()) or None


@dataclass(frozen=True)
class ModelSettings:
    """Which models run, where and how: the loaders in `models/` (and the index's, for its encoder) read these."""

    detector: str = setting("yolo11n.pt", "YOLO weights: a local `.pt` file, or a model name that ultralytics fetches.")
    catalog_detector: str = setting(
        "",
        "YOLO weights that know the catalog's own kinds (made by `python -m train detector`), or an "
        "open-vocabulary YOLOE, which is told them; run beside the detector, at the size they were trained at. "
        "Empty: none.",
    )
    encoder: str | None = setting(
        None,
        "The image encoder: a `transformers` model id or folder, CLIP-family or image-only (ViT, DINOv2, "
        "MobileNetV2...); the app rebuilds an index built with another. Not set: the encoder the index was built "
        f"with, and `{DEFAULT_ENCODER}` for a new index.",
    )
    device: str | None = setting(
        None, "Where the models run: `cpu` or `cuda`. Not set: `cuda` when present, else `cpu`."
    )
    threads: int = setting(0, "Threads torch and FAISS use. `0`: every core.", low=0, high=1024)
    imgsz: int = setting(
        640, "The detector's input size in pixels: larger finds smaller objects, more slowly.", low=32, high=4096
    )
    iou: float = setting(
        0.5, "The IoU above which the detector's non-maximum suppression drops the weaker box.", low=0.0, high=1.0
    )
    max_objects: int = setting(
        30,
        "Most boxes kept per detection pass, before look-alike boxes are grouped into objects; the "
        "low-confidence candidates the catalog may vouch for (`low_conf`) need room.",
        low=1,
        high=1000,
    )
    precision: str = setting(
        "float32",
        "The encoder's arithmetic: `float32`; or `bfloat16`, 0.6x of a CLIP-B/32 search's time on a "
        "CPU with bf16 instructions (`avx512_bf16` or `amx_bf16` in `/proc/cpuinfo`), slower on one without, "
        "and answers that differ a little.",
        choices=PRECISIONS,
    )
    runtime: str = setting(
        "auto",
        "What runs the encoder's image pass on a CPU in float32: `onnx`, ONNX Runtime (the same embeddings, "
        "MobileNetV2's in 0.6x the time; the graph is exported once into the user cache), or PyTorch where "
        "onnxruntime is not installed or cannot run the model; `torch`, PyTorch; `auto`, ONNX Runtime for a "
        "convolutional encoder, PyTorch for a transformer (a CLIP-B/32 search was only 3% faster for a second "
        "copy of its weights).",
        choices=RUNTIMES,
    )

    def __post_init__(self):
        check(self)


@dataclass(frozen=True)
class SearchSettings:
    """How a photo is searched, and each request's defaults: the engine (`search/`) reads these. "With kinds":
    where the index gives each product a kind, from the catalog's categories (`kind_rules`)."""

    top_k: int = setting(
        10, "Products listed per object: the page's starting value, and a request's default.", low=1, high=MAX_TOP_K
    )
    conf: float = setting(
        0.25,
        "The score an object needs to be listed (the detector's confidence, or with kinds the catalog's "
        "agreement where it is stronger: `catalog_weight`): the page's starting value, and a request's default.",
        low=0.0,
        high=1.0,
    )
    max_pixels: int = setting(
        40_000_000,
        "Larger photos are refused before they are decoded: well above any phone photo, far below "
        "what exhausts memory decoded.",
        low=1,
        high=10**9,
    )
    classes: str = setting(
        ",".join(HOME_CLASSES),
        "Comma-separated detector class names kept when the catalog gives no product "
        "kinds, or `all`; with kinds, the detector looks for the classes the catalog sells.",
    )
    crop_padding: float = setting(0.05, "The share of a box's size added around each crop.", low=0.0, high=1.0)
    # Retrieval quality (docs/quality.md); each measured on the ikea-interior benchmark.
    catalog_weight: float = setting(
        0.8,
        "With kinds, an object's score is the stronger of the detector's confidence and the catalog's "
        "agreement: this weight times (11 - r) / 10, r the rank of the first product of its kind among the "
        "crop's 10 nearest catalog products. Below 1, so that `conf=1` lets nothing pass. `0`: the detector's "
        "confidence alone.",
        low=0.0,
        high=0.99,
    )
    low_conf: float = setting(
        0.05,
        "With kinds, the detector's boxes are taken down to this confidence, and those below `conf` are "
        "kept when the catalog vouches for them (`catalog_weight`). `conf` or above: off.",
        low=0.0,
        high=1.0,
    )
    detect_mirrored: bool = setting(
        True, "Also detect on the mirrored photo: finds more, for twice the detection time (a speed choice)."
    )
    other_kinds: int = setting(
        2,
        "With kinds, how many objects of the catalog's own kinds that no detector class covers (bookcases, "
        "wardrobes, rugs...) each photo gets, labelled with the catalog's word: found by the catalog detector "
        "first, then in the photo's regions, the second and later apart from the other objects; in a photo of one "
        "product (one object found or none) the regions give one at most. `0`: none.",
        low=0,
        high=100,
    )
    whole_photo_upto: int = setting(
        4,
        "The whole photo is one more object when at most this many objects were found, so that a close-up of "
        "one product is never worse than no detector; with one or none, it comes first. `0`: only when none was.",
        low=0,
        high=1000,
    )
    kind_weight: float = setting(
        0.2,
        "With kinds, the whole photo where it leads (one object found or none) and a region the shopper chose "
        "have their products lifted towards the kinds of their 10 nearest: this weight times the kind's share "
        "of them, each weighted 1/rank (1: all ten of it). The scores shown stay the similarities. Chosen on "
        "the tune halves (docs/quality.md). `0`: off.",
        low=0.0,
        high=2.0,
    )
    # Shopper search (docs/app.md: Search by words, regions and filters).
    words_weight: float = setting(
        0.4,
        "Words refining a photo search lift each product by this weight times its keyword relevance (BM25, "
        "1 for the best match in the catalog), on top of its similarity; chosen on `bench.refine`'s tune half.",
        low=0.0,
        high=10.0,
    )
    close_level: float = setting(
        0.3,
        "A best match at least this close (0 to 1, on the index's own scale: `index.vectors.calibration`) is a "
        'close match; below it the page says "nothing close". Chosen on the tune half of the ikea-interior '
        "scenes, where 0.5 called two objects in five so, one in five of them wrongly.",
        low=0.0,
        high=1.0,
    )
    popularity_weight: float = setting(
        0.0,
        "Near-ties re-ranked by the catalog's rating or popularity column, where it has one: this weight "
        "times the product's popularity percentile is added to its similarity (the scores shown stay the "
        "similarities). `0`: off.",
        low=0.0,
        high=1.0,
    )
    hub_weight: float = setting(
        0.25,
        "Where the index's hubness was measured (`hub_views`), each product's similarity is lowered "
        "by this weight times its photo's hubness before ranking (the scores shown stay the similarities). "
        "Chosen on the tune halves among 0.25, 0.35 and 0.5: at 0.25 it finds more in rooms and in real photos "
        "(docs/quality.md). `0`: off.",
        low=0.0,
        high=2.0,
    )
    close_up_hub_weight: float = setting(
        0.75,
        "`hub_weight` for a photo of one product (a whole photo that leads: one object found or none; a region the "
        "shopper chose), which is what the hubness is measured on; a room's products are often the hubs themselves. "
        "Chosen on the tune half among 0.5, 0.75 and 1.0 (docs/quality.md).",
        low=0.0,
        high=2.0,
    )

    def __post_init__(self):
        check(self)
        if self.class_list == ():
            raise SettingsError(f"{described('classes')} names no class; give class names or 'all'.")

    @property
    def class_list(self) -> tuple[str, ...] | None:
        """The detector classes to keep; None for all of them."""
        if self.classes.strip().lower() == "all":
            return None
        return tuple(c.strip() for c in self.classes.split(",") if c.strip())


GROUPS = {"catalog": CatalogSettings, "models": ModelSettings, "search": SearchSettings}


@dataclass(frozen=True)
class Settings:
    """Every setting, grouped by what reads it; each has one flat name (its LOOKALIKE_<NAME> variable)."""

    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    search: SearchSettings = field(default_factory=SearchSettings)

    @classmethod
    def of(cls, **values) -> Settings:
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
    def from_env(cls, env=os.environ, **overrides) -> Settings:
        """Defaults < LOOKALIKE_<NAME> environment variables < `overrides` that are not None."""
        values = {}
        for name in NAMES:
            raw = env.get(variable(name))
            if raw not in (None, ""):
                values[name] = parse_setting(name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.of(**values)


# Flat name -> (group, attribute), for every setting.
PLACES = {flat_name(f): (group, f.name) for group, kind in GROUPS.items() for f in fields(kind)}
NAMES = tuple(PLACES)


def _place(name: str) -> tuple[str, str]:
    if name not in PLACES:
        raise SettingsError(f"There is no setting {name!r}; the settings are {', '.join(NAMES)}.")
    return PLACES[name]


def parse_setting(name: str, raw: str):
    """The value of setting `name` written as text (as in LOOKALIKE_<NAME>), of the setting's type."""
    group, attribute = _place(name)
    kind = kind_of(next(f for f in fields(GROUPS[group]) if f.name == attribute))
    text = raw.strip()
    if kind is bool:  # bool("false") is True
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{variable(name)}={raw!r} is not a valid bool (true or false).")
    try:
        return kind(text) if kind is not str else raw
    except ValueError as exc:
        raise SettingsError(f"{variable(name)}={raw!r} is not a valid {kind.__name__}.") from exc
