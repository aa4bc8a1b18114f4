"""Shared test setup: one torch thread (as in a run's worker). gancore and app are installed
(`pip install -e .` in `make install`); `tests` is a package, so pytest puts the checkout on the
import path for `tests.servers` and friends."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch

    torch.set_num_threads(1)
