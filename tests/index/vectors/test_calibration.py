"""An index's own similarity scale: anchors measured from the catalog, closeness read from them."""

import numpy as np
import pytest

from index.vectors.calibration import Calibration, calibrate
from index.vectors.faiss import FaissFlatIP


@pytest.mark.parametrize("score, closeness", [(0.1, 0.0), (0.3, 0.0), (0.55, 0.5), (0.8, 1.0), (0.95, 1.0)])
def test_closeness_runs_from_unrelated_to_near(score, closeness):
    assert Calibration(unrelated=0.3, near=0.8).closeness(score) == pytest.approx(closeness)


def test_anchors_come_from_the_catalog_and_leave_a_products_own_photos_out():
    rng = np.random.default_rng(0)
    pairs = rng.normal(size=(50, 32)).astype(np.float32)
    # 50 products of two photos each: each photo's twin is its nearest, a neighbour it must not count.
    vectors = np.concatenate([pairs, pairs + 0.01 * rng.normal(size=pairs.shape).astype(np.float32)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = FaissFlatIP.new(32)
    index.add(vectors, np.arange(100, dtype=np.int64))
    ids = [f"P{i % 50}" for i in range(100)]
    calibration = calibrate(index, ids)
    assert abs(calibration.unrelated) < 0.1  # random directions
    assert 0.1 < calibration.near < 0.9  # the nearest other product, not the twin at ~1.0
    assert calibrate(index, ["same"] * 100) is None  # one product: nothing to compare
