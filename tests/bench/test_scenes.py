"""Reading a scenes -> products benchmark."""

import pytest

from bench.scenes import BenchmarkError, read_product_classes, read_scenes
from support import write_csv


def test_read_scenes_keeps_scenes_with_ground_truth(tmp_path):
    path = write_csv(tmp_path / "scenes.csv", [
        {"scene_id": "s1", "image_path": "img/1.jpg", "gt": "a|b", "other": ""},
        {"scene_id": "s2", "image_path": "img/2.jpg", "gt": "", "other": ""},  # no ground truth: not run
        {"scene_id": "s3", "image_path": "img/3.jpg", "gt": "", "other": " c "},
    ])
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
    path = write_csv(tmp_path / "products.csv", [{"product_id": "a", "image_path": "a.jpg", "coco_class": "chair"},
                                                  {"product_id": "b", "image_path": "b.jpg", "coco_class": ""}])
    assert read_product_classes(path, "coco_class") == {"a": "chair"}
    assert read_product_classes(path, "nope") is None
