"""Reading a scenes -> products benchmark."""

import pytest

from bench.scenes import HALVES, BenchmarkError, in_half, read_product_classes, read_scenes
from support import write_csv


def test_read_scenes_keeps_scenes_with_ground_truth(tmp_path):
    path = write_csv(
        tmp_path / "scenes.csv",
        [
            {"scene_id": "s1", "image_path": "img/1.jpg", "gt": "a|b", "other": ""},
            {"scene_id": "s2", "image_path": "img/2.jpg", "gt": "", "other": ""},  # no ground truth: not run
            {"scene_id": "s3", "image_path": "img/3.jpg", "gt": "", "other": " c "},
        ],
    )
    scenes = read_scenes(path, ["gt", "other"])
    assert [s.id for s in scenes] == ["s1", "s3"]
    assert scenes[0].truth == {"gt": {"a", "b"}, "other": frozenset()} and scenes[1].truth["other"] == {"c"}
    assert scenes[0].image == tmp_path / "img" / "1.jpg"
    assert [s.id for s in read_scenes(path, ["gt", "other"], limit=1)] == ["s1"]
    with pytest.raises(BenchmarkError, match="no column 'missing'"):
        read_scenes(path, ["missing"])
    empty = write_csv(tmp_path / "empty.csv", [{"scene_id": "s", "image_path": "x", "gt": ""}])
    with pytest.raises(BenchmarkError, match="No scene"):
        read_scenes(empty, ["gt"])


def test_product_classes_are_optional(tmp_path):
    path = write_csv(
        tmp_path / "products.csv",
        [
            {"product_id": "a", "image_path": "a.jpg", "coco_class": "chair"},
            {"product_id": "b", "image_path": "b.jpg", "coco_class": ""},
        ],
    )
    assert read_product_classes(path, "coco_class") == {"a": "chair"}
    assert read_product_classes(path, "nope") is None


def test_the_halves_split_the_scenes_for_good(tmp_path):
    ids = [f"{i:08d}" for i in range(200)]
    path = write_csv(tmp_path / "scenes.csv", [{"scene_id": i, "image_path": "x.jpg", "gt": "a"} for i in ids])
    tune, held = ([s.id for s in read_scenes(path, ["gt"], half=h)] for h in HALVES)
    assert sorted(tune + held) == ids and not set(tune) & set(held)
    assert 80 < len(tune) < 120  # about half each
    assert all(in_half(i, "tune") for i in tune)  # by the id alone: the same split on every run
    with pytest.raises(BenchmarkError, match="half must be one of tune, held"):
        in_half("s1", "train")
