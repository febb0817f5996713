"""One setting as a dataclass field: its default, its description, its flat name, the values it takes, and the
checks and messages that name it by its `LOOKALIKE_<NAME>` variable."""

from __future__ import annotations

from dataclasses import Field, field, fields
from typing import Any

from .errors import LookalikeError


class SettingsError(LookalikeError):
    """A setting has a value it cannot take."""


def setting(default: Any, doc: str, **metadata: Any) -> Any:
    """A setting's field: its default and its description (Markdown), from which docs/settings.md is
    generated (`python -m core.settings_page`). `name=` gives it another flat name, `choices=` the values
    it accepts, `low=` and `high=` its range."""
    return field(default=default, metadata={"doc": doc, **metadata})


def flat_name(f: Field) -> str:
    return f.metadata.get("name", f.name)


def variable(name: str) -> str:
    return f"LOOKALIKE_{name.upper()}"


def described(name: str) -> str:
    return f"The setting {name} ({variable(name)})"


def kind_of(f: Field) -> type:
    """A setting's type: its default's, or str where the default is None."""
    return str if f.default is None else type(f.default)


def check(group: Any) -> None:
    """Refuse a value of the wrong type, out of range or not among its choices, naming the setting; ints become
    floats where floats are due."""
    for f in fields(group):
        name, value, kind = flat_name(f), getattr(group, f.name), kind_of(f)
        if value is None and f.default is None:
            continue
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(group, f.name, float(value))
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SettingsError(f"{described(name)} must be a {kind.__name__}, got {value!r}.")
    for f in fields(group):
        low, high, value = f.metadata.get("low"), f.metadata.get("high"), getattr(group, f.name)
        if low is not None and not (low <= value <= high):
            raise SettingsError(f"{described(flat_name(f))} must be between {low} and {high}, got {value!r}.")
    for f in fields(group):
        choices, value = f.metadata.get("choices"), getattr(group, f.name)
        if choices and value not in choices:
            raise SettingsError(f"{described(flat_name(f))} must be one of {', '.join(choices)}, got {value!r}.")


def column_values(name: str, text: str) -> tuple[str, tuple[str, ...]] | None:
    """A "column=value,value" setting as (column, values); None when empty."""
    if not text.strip():
        return None
    column, _, values = text.partition("=")
    found = tuple(v.strip() for v in values.split(",") if v.strip())
    if not column.strip() or not found:
        raise SettingsError(f"{described(name)} must be 'column=value,value', got {text!r}.")
    return column.strip(), found
