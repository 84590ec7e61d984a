"""Fixtures of the sweep tests: the job tests' moto "deployment" and fake dataset catalogue, reused."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# As in tests/jobs: --import-mode=importlib puts no test folder on sys.path; the doubles live there.
sys.path.insert(0, str(Path(__file__).parent.parent / "jobs"))

from jobs_fakes import FakeCatalogue  # noqa: E402

from tests.jobs.conftest import clean_env, deployment, moto_aws  # noqa: E402,F401 - fixtures, reused


@pytest.fixture
def catalogue(monkeypatch):
    import ocrbatch.datasets

    fake = FakeCatalogue()
    monkeypatch.setattr(ocrbatch.datasets, "publish_dataset", fake.publish_dataset, raising=False)
    monkeypatch.setattr(ocrbatch.datasets, "resolve_version", fake.resolve_version, raising=False)
    return fake
