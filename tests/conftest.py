"""Fixtures that tests across folders share: an environment no real AWS profile or ocrbatch setting leaks
into, moto's in-process AWS with the fake stack deployed, a fake dataset catalogue, an empty local home.

The doubles they use live in ``tests/jobs_fakes.py``; running the CLI in-process is ``tests/cli_runner.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.jobs_fakes import REGION, Deployment, FakeCatalogue, deploy_fake_stack

# Settings that would point a test at a real account or endpoint, or change what ocrbatch does.
LEAKY_VARIABLES = (
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN",
    "OCRBATCH_BACKEND", "OCRBATCH_STACK", "OCRBATCH_DEBUG", "OCRBATCH_ON_DEMAND_PRICES",
    "MOTO_SIMPLE_BATCH_FAIL_AFTER",
)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """Fake credentials in the fake stack's region and a home under the test's tmp folder."""
    for name in LEAKY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("OCRBATCH_HOME", str(tmp_path / "home"))


@pytest.fixture
def moto_aws(clean_env):
    from moto import mock_aws

    # Without Docker, moto's Batch marks every job SUCCEEDED the moment it is submitted.
    with mock_aws(config={"batch": {"use_docker": False}}):
        yield


@pytest.fixture
def deployment(moto_aws) -> Deployment:
    return deploy_fake_stack()


@pytest.fixture
def catalogue(monkeypatch) -> FakeCatalogue:
    """Datasets resolve and publish in memory: job tests need a dataset id, not a dataset."""
    import ocrbatch.datasets

    fake = FakeCatalogue()
    monkeypatch.setattr(ocrbatch.datasets, "publish_dataset", fake.publish_dataset, raising=False)
    monkeypatch.setattr(ocrbatch.datasets, "resolve_version", fake.resolve_version, raising=False)
    return fake


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty local home, with the dataset cache beside it rather than the user's."""
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "home"
