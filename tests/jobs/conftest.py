"""Fixtures for the job lifecycle tests: an in-process moto "deployment" and a clean environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The suite runs with --import-mode=importlib, which puts no test folder on sys.path; the test
# doubles shared by this folder's modules live beside them in jobs_fakes.py.
sys.path.insert(0, str(Path(__file__).parent))

from jobs_fakes import REGION, Deployment, deploy_fake_stack  # noqa: E402


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No real AWS profile, endpoint or ocrbatch setting leaks into a test."""
    for name in (
        "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN",
        "OCRBATCH_BACKEND", "OCRBATCH_STACK", "OCRBATCH_DEBUG", "MOTO_SIMPLE_BATCH_FAIL_AFTER",
    ):
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
