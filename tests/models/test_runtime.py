"""Thread counts come from the settings; 0 means every core."""

import os

import faiss
import pytest
import torch

from models.runtime import pick_device, set_threads


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    set_threads(before)


@pytest.mark.parametrize("count, expected", [(1, 1), (3, 3), (0, os.cpu_count())])
def test_set_threads_sets_torch_and_faiss(restore_threads, count, expected):
    set_threads(count)
    assert torch.get_num_threads() == expected and faiss.omp_get_max_threads() == expected


def test_pick_device():
    assert pick_device("cpu") == "cpu"
    assert pick_device(None) == ("cuda" if torch.cuda.is_available() else "cpu")
