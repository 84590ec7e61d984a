"""The local-mode tests' small generated dataset (an empty home per test is ``tests/conftest.py``'s)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from ocrbatch.synth import generate_dataset

    root = tmp_path_factory.mktemp("scores")
    generate_dataset(root, count=240, seed=5, task="rec", styles=["seg7"], val_fraction=0.2)
    return root
