"""docs/settings.md is generated from the settings' own descriptions (core/settings.py): it is up to date,
and lists every setting once, each described."""

import re
from collections import Counter
from dataclasses import fields

import core.settings_page
from core.settings import GROUPS, NAMES
from core.settings_page import page
from support import ROOT

REGENERATE = "python -m core.settings_page"


def test_the_settings_page_is_up_to_date():
    path = ROOT / "docs" / "settings.md"
    assert path.exists() and path.read_text(encoding="utf-8") == page(), (
        f"docs/settings.md is stale: regenerate it with `{REGENERATE}` and commit it"
    )


def test_every_setting_is_described():
    undescribed = [f.name for kind in GROUPS.values() for f in fields(kind) if not f.metadata.get("doc", "").strip()]
    assert not undescribed, f"settings without a description (setting(default, doc)): {undescribed}"


def test_every_setting_is_one_row_of_four_cells_under_its_groups_heading():
    text = page()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    cells = [re.split(r"(?<!\\)\|", row)[1:-1] for row in rows]  # an escaped \| stays in its cell
    assert all(len(row) == 4 for row in cells)
    listed = Counter(row[1].strip() for row in cells)
    assert listed == Counter(f"`LOOKALIKE_{name.upper()}`" for name in NAMES)
    assert [line for line in text.splitlines() if line.startswith("## ")] == ["## Catalog", "## Models", "## Search"]


def test_check_fails_on_a_stale_page_and_passes_once_it_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(core.settings_page, "PATH", tmp_path / "docs" / "settings.md")
    assert core.settings_page.main(["--check"]) == 1
    assert REGENERATE in capsys.readouterr().err
    assert core.settings_page.main([]) == 0
    assert core.settings_page.main(["--check"]) == 0
