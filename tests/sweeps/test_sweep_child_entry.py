"""The training image's entry point as a sweep's child: `python -m ocrbatch.trainer` with the sweep's
environment and Batch's array index reads the manifest from S3 (moto) and trains its own settings."""

import json
import logging

import boto3
import pytest

import ocrbatch.trainer.run
from ocrbatch.jobs import sweeps
from ocrbatch.jobs.submission import TrainingOptions
from ocrbatch.storage import S3Store
from ocrbatch.trainer.__main__ import main

REGION = "us-west-2"


@pytest.fixture(autouse=True)
def own_logging():
    """The entry point points the root logger at this test's captured stdout: put it back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def bucket_store(moto_aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": REGION})
    return S3Store(s3, "data")


def test_each_child_trains_its_own_settings_in_its_own_run(bucket_store, monkeypatch):
    settings = sweeps.child_settings(sweeps.parse_grid(["learning-rate=0.001,0.01", "hidden_size=32,64"]), {},
                                     random_count=None, seed=None)
    plan = sweeps.plan_sweep(bucket_store, bucket_store.uri("datasets/scores/versions/v1"),
                             TrainingOptions(epochs=3), settings)
    bucket_store.put_bytes(plan.manifest_uri.split("data/", 1)[1], json.dumps(plan.manifest(backend="aws")).encode())
    trained = []
    monkeypatch.setattr(ocrbatch.trainer.run, "run_training", lambda spec, **_: trained.append(spec) or 0)
    monkeypatch.setattr(ocrbatch.trainer.run, "install_signal_handlers", lambda stop: None)
    for name, value in plan.base.to_env().items():  # what Batch gives every child
        monkeypatch.setenv(name, value)
    for index in (3, 0):
        monkeypatch.setenv("AWS_BATCH_JOB_ARRAY_INDEX", str(index))
        assert main([]) == 0
    assert trained == [plan.children[3].spec, plan.children[0].spec]
    assert (trained[0].learning_rate, trained[0].overrides["hidden_size"]) == (0.01, "64")
    assert trained[0].output == f"s3://data/runs/{plan.sweep_id}-3/"


def test_a_child_whose_manifest_is_gone_fails_in_one_line(bucket_store, monkeypatch, capsys):
    monkeypatch.setenv("OCRBATCH_DATASET", "s3://data/datasets/scores/versions/v1")
    monkeypatch.setenv("OCRBATCH_OUTPUT", "s3://data/runs/s1/")
    monkeypatch.setenv("OCRBATCH_SWEEP", "s3://data/runs/s1/sweep.json")
    monkeypatch.setenv("AWS_BATCH_JOB_ARRAY_INDEX", "1")
    assert main([]) == 2
    assert "no such object: s3://data/runs/s1/sweep.json" in capsys.readouterr().err
