"""Settings: one place for every default, grouped by what reads them, read from the environment and
flags, checked when made."""

import pytest

import core.paths as paths_module
from core.defaults import HOME_CLASSES
from core.paths import cache_root
from core.settings import NAMES, SearchSettings, Settings, SettingsError, parse_setting


def test_precedence_is_defaults_then_environment_then_flags():
    env = {
        "LOOKALIKE_TOP_K": "7",
        "LOOKALIKE_CONF": "0.4",
        "LOOKALIKE_INDEX_DIR": "/srv/idx",
        "LOOKALIKE_DETECTOR": "/w/yolo.pt",
    }
    settings = Settings.from_env(env, conf=0.1, detector=None)
    assert (settings.search.top_k, settings.search.conf, settings.catalog.index_dir, settings.models.detector) == (
        7,
        0.1,
        "/srv/idx",
        "/w/yolo.pt",
    )
    assert Settings.from_env({}) == Settings.of() == Settings()


def test_the_index_lives_in_the_user_cache_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert Settings.of().catalog.index_dir == str(tmp_path / "lookalike" / "index")
    assert cache_root({}).parts[-2:] == (".cache", "lookalike")


def test_on_a_space_with_persistent_storage_the_index_and_caches_live_there(monkeypatch, tmp_path):
    data = tmp_path / "data"
    assert cache_root({}, persistent=data).parts[-2:] == (".cache", "lookalike")  # no persistent storage
    data.mkdir()
    assert cache_root({}, persistent=data) == data / "lookalike"
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path / "xdg")}, persistent=data) == tmp_path / "xdg" / "lookalike"
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(paths_module, "PERSISTENT", data)
    assert Settings.of().catalog.index_dir == str(data / "lookalike" / "index")
    assert Settings.of(index_dir="/srv/idx").catalog.index_dir == "/srv/idx"


def test_class_list():
    assert SearchSettings(classes="all").class_list is None
    assert SearchSettings(classes="chair, bed").class_list == ("chair", "bed")
    assert SearchSettings().class_list == HOME_CLASSES


def test_each_setting_is_in_the_group_that_reads_it_under_one_flat_name():
    settings = Settings.of(catalog="/shop.csv", detector="/w/yolo.pt", top_k=3)
    assert (settings.catalog.source, settings.models.detector, settings.search.top_k) == ("/shop.csv", "/w/yolo.pt", 3)
    flat = settings.flat()
    assert set(flat) == set(NAMES) and (flat["catalog"], flat["top_k"], flat["threads"]) == ("/shop.csv", 3, 0)
    with pytest.raises(SettingsError, match="There is no setting 'kinds'"):  # the ablations left the product
        Settings.of(kinds="off")


@pytest.mark.parametrize(
    "env, value",
    [
        ({"LOOKALIKE_DETECT_MIRRORED": "false"}, ("detect_mirrored", False)),
        ({"LOOKALIKE_DETECT_MIRRORED": "Yes"}, ("detect_mirrored", True)),
        ({"LOOKALIKE_DETECT_MIRRORED": "0"}, ("detect_mirrored", False)),
        ({"LOOKALIKE_THREADS": "3"}, ("threads", 3)),
        ({"LOOKALIKE_ENCODER": "/m/clip"}, ("encoder", "/m/clip")),
        ({"LOOKALIKE_LOW_CONF": "1"}, ("low_conf", 1.0)),
        ({"LOOKALIKE_PRECISION": "bfloat16"}, ("precision", "bfloat16")),
    ],
)
def test_environment_values_are_read_as_the_settings_type(env, value):
    name, expected = value
    got = Settings.from_env(env).flat()[name]
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"LOOKALIKE_TOP_K": "many"}, "LOOKALIKE_TOP_K='many' is not a valid int"),
        ({"LOOKALIKE_DETECT_MIRRORED": "maybe"}, "LOOKALIKE_DETECT_MIRRORED='maybe' is not a valid bool"),
        ({"LOOKALIKE_CONF": "1.5"}, r"conf \(LOOKALIKE_CONF\) must be between 0.0 and 1.0"),
        ({"LOOKALIKE_TOP_K": "0"}, r"top_k \(LOOKALIKE_TOP_K\) must be between 1"),
        ({"LOOKALIKE_TOP_K": "31"}, r"top_k \(LOOKALIKE_TOP_K\) must be between 1 and 30"),  # what a search may ask
        ({"LOOKALIKE_BATCH_SIZE": "0"}, r"batch_size \(LOOKALIKE_BATCH_SIZE\) must be between 1"),
        ({"LOOKALIKE_CLASSES": " , "}, r"classes \(LOOKALIKE_CLASSES\) names no class"),
        ({"LOOKALIKE_THREADS": "-1"}, r"threads \(LOOKALIKE_THREADS\) must be between 0"),
        (
            {"LOOKALIKE_VECTOR_INDEX": "fast"},
            r"vector_index \(LOOKALIKE_VECTOR_INDEX\) must be one of auto, exact, hnsw, milvus",
        ),
        ({"LOOKALIKE_THUMBNAILS": "embed"}, r"thumbnails \(LOOKALIKE_THUMBNAILS\) must be one of copy, link"),
        ({"LOOKALIKE_PRECISION": "bf16"}, r"precision \(LOOKALIKE_PRECISION\) must be one of float32, bfloat16"),
        ({"LOOKALIKE_RUNTIME": "tensorrt"}, r"runtime \(LOOKALIKE_RUNTIME\) must be one of auto, onnx, torch"),
    ],
)
def test_bad_values_are_refused_naming_the_setting(values, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(values)


def test_values_given_in_code_are_checked_too():
    with pytest.raises(SettingsError, match=r"top_k .* must be a int"):
        Settings.of(top_k="5")
    with pytest.raises(SettingsError, match="iou"):
        Settings.of(iou=2.0)
    with pytest.raises(SettingsError, match=r"The setting catalog \(LOOKALIKE_CATALOG\) must be a str"):
        Settings.of(catalog=3)
    conf = Settings.of(conf=1).search.conf
    assert conf == 1.0 and isinstance(conf, float)


def test_parse_setting_knows_every_setting():
    assert parse_setting("max_objects", "5") == 5
    with pytest.raises(SettingsError, match="There is no setting 'nonsense'"):
        parse_setting("nonsense", "1")
