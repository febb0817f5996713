"""From settings to a loaded index and its encoder: built when asked and needed, reused otherwise."""

import pytest

from core.settings import Settings
from index.errors import IndexMismatchError, IndexNotFoundError
from index.store.versions import live_version
from support import ensure


def _settings(**values):
    return Settings.from_env(env={}, device="cpu", **values)


def test_first_start_builds_the_index_and_later_starts_reuse_it(tmp_path, color_catalog, tiny_clip_path):
    settings = _settings(catalog=str(color_catalog), encoder=str(tiny_clip_path), index_dir=str(tmp_path / "idx"))
    index, encoder = ensure(settings, build=True, progress=False)
    built = live_version(tmp_path / "idx")
    assert len(index) == 6 and encoder.name == str(tiny_clip_path) and index.path == built

    again, _ = ensure(settings, build=True, progress=False)
    assert again.path == built
    # The folder holding the manifest names the same catalog; without an encoder setting, the index's own.
    third, loaded = ensure(_settings(catalog=str(color_catalog.parent), index_dir=str(tmp_path / "idx")), build=True)
    assert third.path == built and loaded.name == str(tiny_clip_path)


def test_an_index_is_rebuilt_for_another_catalog_or_encoder_but_kept_for_the_default(
    tmp_path, color_catalog, tiny_clip_path, tiny_vit_path
):
    directory = tmp_path / "idx"
    ensure(
        _settings(catalog=str(color_catalog), encoder=str(tiny_clip_path), index_dir=str(directory)),
        build=True,
        progress=False,
    )
    first = live_version(directory)

    ensure(_settings(index_dir=str(directory)), build=True)  # default catalog: a prebuilt index is served
    assert live_version(directory) == first

    index, encoder = ensure(
        _settings(catalog=str(color_catalog), encoder=str(tiny_vit_path), index_dir=str(directory)),
        build=True,
        progress=False,
    )
    second = live_version(directory)
    assert second != first and index.dim == encoder.dim == 24

    other = tmp_path / "other.csv"
    other.write_text(color_catalog.read_text().replace("img/", str(color_catalog.parent / "img") + "/"))
    ensure(
        _settings(catalog=str(other), encoder=str(tiny_vit_path), index_dir=str(directory)), build=True, progress=False
    )
    assert live_version(directory) != second


def test_an_encoder_with_other_weights_rebuilds_when_building_is_allowed(tmp_path, color_catalog):
    import torch

    from support import save_tiny_clip

    torch.manual_seed(0)
    model = save_tiny_clip(tmp_path / "tiny-clip")
    settings = _settings(catalog=str(color_catalog), encoder=str(model), index_dir=str(tmp_path / "idx"))
    ensure(settings, build=True, progress=False)
    first = live_version(tmp_path / "idx")
    torch.manual_seed(1)
    save_tiny_clip(model)  # same name, other weights: a model updated in place
    with pytest.raises(IndexMismatchError):
        ensure(settings)
    index, _ = ensure(settings, build=True, progress=False)
    assert index.path != first


def test_the_app_builds_at_the_photo_share_its_settings_name_and_keeps_an_index_built_at_another(
    tmp_path, color_catalog, tiny_clip_path
):
    place = {"catalog": str(color_catalog), "encoder": str(tiny_clip_path), "index_dir": str(tmp_path / "idx")}
    index, _ = ensure(_settings(photo_share=0.79, **place), build=True, progress=False)
    assert index.manifest.photo_share == 0.79
    # An index built from now on: one built at another share is served as it is, not rebuilt.
    assert ensure(_settings(**place), build=True, progress=False)[0].path == index.path


def test_without_building_a_missing_index_is_an_error(tmp_path, color_catalog):
    with pytest.raises(IndexNotFoundError, match="No index at"):
        ensure(_settings(catalog=str(color_catalog), index_dir=str(tmp_path / "none")))
    assert not (tmp_path / "none").exists()


def test_other_kind_rules_rebuild_the_index_when_building_is_allowed(tmp_path, color_catalog, tiny_clip_path):
    import json

    place = {"catalog": str(color_catalog), "encoder": str(tiny_clip_path), "index_dir": str(tmp_path / "idx")}
    index, _ = ensure(_settings(**place), build=True, progress=False)
    assert index.table.kinds.classes == ("chair",)  # the shop's category is "chair"
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"couch": ["chair"]}))  # a shop whose "chairs" are sofas
    settings = _settings(kind_rules=str(rules), **place)
    with pytest.raises(IndexMismatchError, match="other kind rules"):
        ensure(settings)
    rebuilt, _ = ensure(settings, build=True, progress=False)
    assert rebuilt.path != index.path and rebuilt.table.kinds.classes == ("couch",)
    assert ensure(settings, build=True, progress=False)[0].path == rebuilt.path  # the same rules: kept
    assert ensure(_settings(**place))[0].path == rebuilt.path  # no rules named: the index's own are served


def test_on_persistent_storage_a_restart_loads_the_index_built_before(
    monkeypatch, tmp_path, color_catalog, tiny_clip_path
):
    """A Space with persistent storage (/data, here a folder standing for it) and no index directory set:
    the first start builds the index there, and a start after a restart finds it rather than building it."""
    import core.paths
    from index.builder.ensure import must_build

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(core.paths, "PERSISTENT", data)
    settings = _settings(catalog=str(color_catalog), encoder=str(tiny_clip_path))
    assert must_build(settings.catalog, settings.models) == "there is no usable index yet"
    index, _ = ensure(settings, build=True, progress=False)
    assert index.path.parent == data / "lookalike" / "index"
    restarted = _settings(catalog=str(color_catalog), encoder=str(tiny_clip_path))
    assert must_build(restarted.catalog, restarted.models) is None
    assert ensure(restarted, build=True, progress=False)[0].path == index.path
