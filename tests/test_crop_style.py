"""Query crops shaped like the catalog's photos: square, on the catalog's own background colour."""

import numpy as np
import pytest
from PIL import Image

from index.build import build_index
from index.catalog import open_catalog
from index.store import CatalogIndex
from search.engine import Engine

GREY = (128, 128, 128)


@pytest.fixture
def grey_index(tmp_path, tiny_clip):
    """Three product photos on a grey studio background, a coloured product in the middle of each."""
    (tmp_path / "img").mkdir()
    lines = ["id,image"]
    for i, rgb in enumerate([(200, 0, 0), (0, 200, 0), (0, 0, 200)]):
        photo = Image.new("RGB", (60, 80), GREY)
        photo.paste(Image.new("RGB", (30, 40), rgb), (15, 20))
        photo.save(tmp_path / "img" / f"{i}.png")
        lines.append(f"P{i},img/{i}.png")
    (tmp_path / "catalog.csv").write_text("\n".join(lines) + "\n")
    build_index(open_catalog(tmp_path / "catalog.csv"), tiny_clip, tmp_path / "idx", progress=False)
    return CatalogIndex.load(tmp_path / "idx", encoder=tiny_clip)


def test_the_index_records_its_photos_background(grey_index):
    assert grey_index.manifest["background"] == list(GREY)


def test_catalog_style_crops_are_squares_on_that_background(grey_index, tiny_clip):
    photo = Image.new("RGB", (100, 100), (0, 0, 0))
    box = np.array([[10, 10, 30, 50]])  # 20 x 40
    [square] = Engine(None, tiny_clip, grey_index, crop_padding=0.0)._crops(photo, box)
    assert square.size == (40, 40) and square.getpixel((2, 20)) == GREY and square.getpixel((20, 20)) == (0, 0, 0)
    [plain] = Engine(None, tiny_clip, grey_index, crop_padding=0.0, crop_style="box")._crops(photo, box)
    assert plain.size == (20, 40)
    with pytest.raises(ValueError, match="crop_style"):
        Engine(None, tiny_clip, grey_index, crop_style="round")
