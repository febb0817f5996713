"""Settings: one place for every default, read from the environment and flags, checked when made."""

import re
from dataclasses import fields

import pytest

from core.settings import HOME_CLASSES, Settings, SettingsError, cache_root, parse_setting
from support import ROOT


def test_precedence_is_defaults_then_environment_then_flags():
    env = {"LOOKALIKE_TOP_K": "7", "LOOKALIKE_CONF": "0.4", "LOOKALIKE_INDEX_DIR": "/srv/idx",
           "LOOKALIKE_DETECTOR": "/w/yolo.pt"}
    settings = Settings.from_env(env, conf=0.1, detector=None)
    assert (settings.top_k, settings.conf, settings.index_dir, settings.detector) == (7, 0.1, "/srv/idx", "/w/yolo.pt")
    assert Settings.from_env({}) == Settings()


def test_the_index_lives_in_the_user_cache_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Settings().index_dir == str(tmp_path / "lookalike" / "index")
    assert cache_root({}).parts[-2:] == (".cache", "lookalike")


def test_class_list():
    assert Settings(classes="all").class_list is None
    assert Settings(classes="chair, bed").class_list == ("chair", "bed")
    assert Settings().class_list == HOME_CLASSES


@pytest.mark.parametrize("env, value", [
    ({"LOOKALIKE_GROUP_OBJECTS": "false"}, ("group_objects", False)),
    ({"LOOKALIKE_DETECT_MIRRORED": "Yes"}, ("detect_mirrored", True)),
    ({"LOOKALIKE_DETECT_MIRRORED": "0"}, ("detect_mirrored", False)),
    ({"LOOKALIKE_THREADS": "3"}, ("threads", 3)),
    ({"LOOKALIKE_ENCODER": "/m/clip"}, ("encoder", "/m/clip")),
    ({"LOOKALIKE_LOW_CONF": "1"}, ("low_conf", 1.0)),
])
def test_environment_values_are_read_as_the_settings_type(env, value):
    name, expected = value
    got = getattr(Settings.from_env(env), name)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("values, message", [
    ({"LOOKALIKE_TOP_K": "many"}, "LOOKALIKE_TOP_K='many' is not a valid int"),
    ({"LOOKALIKE_GROUP_OBJECTS": "maybe"}, "LOOKALIKE_GROUP_OBJECTS='maybe' is not a valid bool"),
    ({"LOOKALIKE_CONF": "1.5"}, r"conf \(LOOKALIKE_CONF\) must be between 0.0 and 1.0"),
    ({"LOOKALIKE_TOP_K": "0"}, r"top_k \(LOOKALIKE_TOP_K\) must be between 1"),
    ({"LOOKALIKE_KINDS": "maybe"}, r"kinds \(LOOKALIKE_KINDS\) must be one of category, off"),
    ({"LOOKALIKE_CROP_STYLE": "round"}, r"crop_style \(LOOKALIKE_CROP_STYLE\) must be one of catalog, box"),
    ({"LOOKALIKE_CLASSES": " , "}, r"classes \(LOOKALIKE_CLASSES\) names no class"),
    ({"LOOKALIKE_THREADS": "-1"}, r"threads \(LOOKALIKE_THREADS\) must be between 0"),
])
def test_bad_values_are_refused_naming_the_setting(values, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(values)


def test_values_given_in_code_are_checked_too():
    with pytest.raises(SettingsError, match="top_k .* must be a int"):
        Settings(top_k="5")
    with pytest.raises(SettingsError, match="iou"):
        Settings(iou=2.0)
    assert Settings(conf=1).conf == 1.0 and isinstance(Settings(conf=1).conf, float)


def test_parse_setting_knows_every_setting():
    assert parse_setting("max_objects", "5") == 5
    with pytest.raises(SettingsError, match="There is no setting 'nonsense'"):
        parse_setting("nonsense", "1")


def test_readme_settings_table_lists_exactly_the_settings():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section: cli -->")[1].split("<!-- /section: cli -->")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `LOOKALIKE_")]
    documented = {name for row in rows for name in re.findall(r"`LOOKALIKE_([A-Z_]+)`", row.split("|")[1])}
    assert documented == {f.name.upper() for f in fields(Settings)}
