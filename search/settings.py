"""Settings shared by the CLIs and the app: defaults, overridden by LOOKALIKE_* variables, overridden by flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from .detector import DEFAULT_DETECTOR, HOME_CLASSES
from .images import DEFAULT_MAX_PIXELS

DEFAULT_CATALOG = "Arkan0ID/furniture-dataset"  # 1,493 furniture product photos; see README (app section)


def _default_index_dir() -> str:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return str(Path(cache) / "lookalike" / "index")


@dataclass(frozen=True)
class Settings:
    detector: str = DEFAULT_DETECTOR
    encoder: str | None = None  # None: the encoder the index was built with
    catalog: str = DEFAULT_CATALOG
    index_dir: str = ""  # "": the user cache directory
    top_k: int = 10
    conf: float = 0.25
    iou: float = 0.5
    imgsz: int = 640  # the detector's input size: larger finds smaller objects, slower
    max_objects: int = 30  # per detection pass; low-confidence candidates need room (README: Quality)
    classes: str = ",".join(HOME_CLASSES)  # comma-separated detector class names, or "all"
    crop_padding: float = 0.05
    device: str | None = None  # None: cuda when present, else cpu
    max_pixels: int = DEFAULT_MAX_PIXELS
    # Retrieval quality (README: Quality); each measured on the ikea-interior benchmark.
    kinds: str = "category"  # "category": search each object among the catalog's products of its kind; "off"
    kind_rules: str = ""  # JSON file {"detector class": ["category phrase", ...]}; "": the built-in rules
    crop_style: str = "catalog"  # "catalog": square crop on the catalog's background; "box": the padded box
    low_conf: float = 0.05  # with kinds, detections from here up to `conf` are kept when the catalog agrees
    group_objects: bool = True  # look-alike detections of one kind are one object with one product list
    detect_mirrored: bool = True  # also detect on the mirrored photo (twice the detection time)

    def __post_init__(self):
        if not self.index_dir:
            object.__setattr__(self, "index_dir", _default_index_dir())

    @property
    def class_list(self) -> tuple[str, ...] | None:
        return None if self.classes.strip().lower() == "all" else tuple(
            c.strip() for c in self.classes.split(",") if c.strip()
        )

    @classmethod
    def from_env(cls, env=os.environ, **overrides) -> "Settings":
        """Defaults < LOOKALIKE_<NAME> environment variables < `overrides` that are not None."""
        values = {}
        for f in fields(cls):
            raw = env.get(f"LOOKALIKE_{f.name.upper()}")
            if raw not in (None, ""):
                values[f.name] = parse_setting(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def parse_setting(name: str, raw: str):
    """The value of setting `name` written as text (as in LOOKALIKE_<NAME>), of the setting's type."""
    kinds = {f.name: type(f.default) if f.default is not None else str for f in fields(Settings)}
    if name not in kinds:
        raise ValueError(f"There is no setting {name!r}; the settings are {', '.join(kinds)}.")
    return _parse(name, raw, kinds[name])


def _parse(name: str, raw: str, kind: type):
    if kind is bool:  # bool("false") is True
        if raw.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if raw.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"LOOKALIKE_{name.upper()}={raw!r} is not a valid bool (true or false).")
    try:
        return kind(raw)
    except ValueError as exc:
        raise ValueError(f"LOOKALIKE_{name.upper()}={raw!r} is not a valid {kind.__name__}.") from exc
