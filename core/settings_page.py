"""docs/settings.md, generated from the settings' own descriptions in core/settings.py.

`python -m core.settings_page` writes the page; `--check` exits 1 when the page differs from what it would write.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from dataclasses import Field, fields
from pathlib import Path

from .defaults import DEFAULT_CATALOG, DEFAULT_CATALOG_READING
from .setting_fields import flat_name, variable
from .settings import GROUPS, CatalogSettings

COMMAND = "python -m core.settings_page"
PATH = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
SHORT = 40  # a default catalog's value longer than this is left to the list at the top, not repeated in its row


def page() -> str:
    """The Markdown of docs/settings.md: an introduction, then a table of settings for each group."""
    parts = [
        f"<!-- Generated from core/settings.py by `{COMMAND}`: edit the descriptions there. -->",
        "# Settings",
        _introduction(),
    ]
    for group, kind in GROUPS.items():
        rows = [_row(flat_name(f), f) for f in fields(kind)]
        parts += [
            f"## {group.title()}",
            " ".join((inspect.getdoc(kind) or "").split()),
            "| setting | variable | default | what it does |\n|---|---|---|---|\n" + "\n".join(rows),
        ]
    return "\n\n".join(parts) + "\n"


def _introduction() -> str:
    filled = "\n".join(f"- `{name}`: {_reading(name, value)}" for name, value in DEFAULT_CATALOG_READING.items())
    return (
        "Every setting has a default, and an environment variable `LOOKALIKE_<NAME>`; the commands take the most "
        "used ones as flags too (`--help` lists them). Flags win over the variables, the variables over the "
        "defaults; an empty variable counts as unset. A value a setting cannot take is refused at start-up with "
        "a message that names the setting. A yes/no setting takes `true` or `false`.\n\n"
        "In Python, `Settings.of(top_k=5)` makes settings from the names in the *setting* column, the rest at "
        "their defaults, and `Settings.from_env()` reads the variables (`core.settings`); the benchmarks take "
        "`--set NAME=VALUE`.\n\n"
        f"When `catalog` is the default catalog, `{DEFAULT_CATALOG}`, these settings, left empty, are read as:\n\n"
        + filled
    )


def _reading(name: str, value: str | int) -> str:
    """The default catalog's value of a setting, as code; link templates per value of a column (JSON too long
    to read) summarised."""
    if name == "link_template":
        parsed = CatalogSettings(link_template=str(value)).link_templates  # parsed as the settings parse it
        column, links = parsed or (None, {})  # none (an empty template): shown as it is
        if column is not None:
            first, link = next(iter(links.items()))
            return (
                f"one link for each of {len(links)} values of `{column}` ({', '.join(links)}), "
                f"e.g. `{link}` for {first}"
            )
    return f"`{value}`"


def _row(name: str, f: Field) -> str:
    doc = f.metadata["doc"]
    if "choices" in f.metadata:
        doc += " One of " + ", ".join(f"`{choice}`" for choice in f.metadata["choices"]) + "."
    if "low" in f.metadata:
        doc += f" From {_number(f.metadata['low'])} to {_number(f.metadata['high'])}."
    default = _default(f.default)
    if name in DEFAULT_CATALOG_READING:
        value = str(DEFAULT_CATALOG_READING[name])
        default += f"; default catalog: `{value}`" if len(value) <= SHORT else "; default catalog: see above"
    cells = (f"`{name}`", f"`{variable(name)}`", default, doc)
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _default(value: object) -> str:
    if value is None or value == "":
        return "(none)"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def _number(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/settings.md is not up to date")
    args = parser.parse_args(argv)
    text = page()
    if args.check:
        if not PATH.exists() or PATH.read_text(encoding="utf-8") != text:
            print(f"{PATH} is not what core/settings.py generates: run `{COMMAND}` and commit it.", file=sys.stderr)
            return 1
        return 0
    PATH.parent.mkdir(exist_ok=True)
    PATH.write_text(text, encoding="utf-8")
    print(f"Wrote {PATH}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
