"""Fixtures shared by the local-mode tests: a small generated dataset and an empty home per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from ocrbatch.synth import generate_dataset

    root = tmp_path_factory.mktemp("scores")
    generate_dataset(root, count=240, seed=5, task="rec", styles=["seg7"], val_fraction=0.2)
    return root


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "home"
