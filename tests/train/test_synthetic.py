"""Synthetic scenes from catalog photos: products cut along their plain background, pasted with
boxes that hold what was pasted, written as an ultralytics dataset."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from index.views.synthetic import Cutout, compose, cut_out
from train.synthetic import write_dataset

COLOURS = {0: (255, 0, 0), 1: (0, 255, 0), 2: (0, 0, 255)}


def studio_photo(colour, background=(255, 255, 255), size=(120, 100), box=(30, 20, 90, 80)) -> Image.Image:
    """A product shot: a `colour` block with a hole of the background colour in it, on `background`."""
    photo = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(photo)
    draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=colour)
    draw.rectangle((box[0] + 20, box[1] + 20, box[0] + 29, box[1] + 29), fill=background)
    return photo


@pytest.mark.parametrize("background", [(255, 255, 255), (235, 235, 238)])
def test_a_product_is_cut_along_its_plain_background_keeping_what_is_inside_it(background):
    cut = cut_out(studio_photo((200, 30, 30), background), kind=4)
    assert cut is not None and cut.kind == 4
    assert cut.rgb.shape == (60, 60, 3) and cut.mask.shape == (60, 60)
    assert cut.mask.all()  # the background-coloured hole is inside the product, so it is part of it
    assert tuple(cut.rgb[0, 0]) == (200, 30, 30)


@pytest.mark.parametrize(
    "photo",
    [
        Image.effect_noise((120, 100), 90).convert("RGB"),  # a busy photo: no plain border
        Image.new("RGB", (120, 100), (255, 255, 255)),  # nothing on it
    ],
)
def test_a_photo_without_a_product_on_a_plain_background_gives_no_cutout(photo):
    assert cut_out(photo, kind=0) is None


def blocks() -> list[Cutout]:
    return [
        Cutout(np.full((40, 30, 3), colour, np.uint8), np.ones((40, 30), bool), kind)
        for kind, colour in COLOURS.items()
    ]


@pytest.mark.parametrize("seed", range(8))
def test_each_labelled_box_holds_the_product_pasted_there(seed):
    image, objects = compose(np.random.default_rng(seed), blocks(), size=(160, 120), most=4)
    pixels = np.asarray(image).astype(int)
    assert image.size == (160, 120) and objects
    for obj in objects:
        x0, y0, x1, y1 = obj.xyxy
        assert 0 <= x0 < x1 <= 160 and 0 <= y0 < y1 <= 120
        region = pixels[y0:y1, x0:x1]
        channel = next(c for c, v in enumerate(COLOURS[obj.kind]) if v)
        # Pasted blocks are recoloured a little but keep their one strong channel.
        own = (region[..., channel] > 150) & (np.delete(region, channel, axis=2).max(axis=2) < 60)
        assert own.mean() > 0.3, (obj, own.mean())


def test_a_product_hidden_behind_later_ones_is_not_labelled():
    # Many large pastes on a small scene: later ones cover earlier ones; the labels are fewer than the pastes.
    counts = [len(compose(np.random.default_rng(seed), blocks(), size=(60, 45), most=12)[1]) for seed in range(20)]
    assert min(counts) >= 1 and max(counts) < 12


def test_the_dataset_is_in_the_ultralytics_layout(tmp_path):
    photos = [(studio_photo(COLOURS[k]), k) for k in (0, 1, 2)] + [(Image.effect_noise((50, 50), 90).convert("RGB"), 0)]
    data = write_dataset(photos, ["rug", "lamp", "shelf"], tmp_path / "scenes", train=5, val=2, progress=False)
    assert data == tmp_path / "scenes" / "data.yaml"
    text = data.read_text()
    assert '0: "rug"' in text and '2: "shelf"' in text and "train: images/train" in text
    for split, count in (("train", 5), ("val", 2)):
        images = sorted((tmp_path / "scenes" / "images" / split).glob("*.jpg"))
        labels = sorted((tmp_path / "scenes" / "labels" / split).glob("*.txt"))
        assert len(images) == len(labels) == count
        for label in labels:
            for line in label.read_text().splitlines():
                kind, *box = line.split()
                assert int(kind) in (0, 1, 2) and len(box) == 4 and all(0 <= float(v) <= 1 for v in box)


def test_a_catalog_with_no_plain_photo_is_refused(tmp_path):
    with pytest.raises(ValueError, match="plain background"):
        write_dataset(
            [(Image.effect_noise((50, 50), 90).convert("RGB"), 0)], ["rug"], tmp_path, train=1, val=1, progress=False
        )
