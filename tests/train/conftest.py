"""What the `train` commands' tests share: an index of a small shop, built as the app builds it."""

import pytest

from core.settings import Settings
from support import FIVE_PRODUCTS, colour_catalog, ensure


@pytest.fixture
def tiny_index(tmp_path, tiny_vit_path, tiny_yolo_path):
    """The settings of an index of a five-product shop, built with a tiny ViT as the app builds it."""
    catalog = colour_catalog(tmp_path / "shop", FIVE_PRODUCTS)
    settings = Settings.of(
        encoder=str(tiny_vit_path),
        catalog=str(catalog),
        index_dir=str(tmp_path / "idx"),
        device="cpu",
        detector=str(tiny_yolo_path),
    )
    ensure(settings, build=True, progress=False)
    return settings
