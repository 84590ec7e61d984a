"""submit, monitor and download against Batch/Logs/S3 through a proxy that throttles or drops 20 %."""

from __future__ import annotations

import json
import urllib.request

import boto3
import pytest

from ocrbatch import artifact
from ocrbatch.jobs.aws_batch import AwsBatchBackend
from ocrbatch.jobs.backend import JobRequest
from ocrbatch.jobs.monitor import JobMonitor, PollSettings
from ocrbatch.jobs.runs import download_model, new_run_id
from ocrbatch.jobs.stack import StackResources
from ocrbatch.layout import RunLayout
from ocrbatch.trainer.spec import TrainingSpec

from .conftest import FIGURES, client_via


def direct(port, service):
    return boto3.session.Session(region_name="us-west-2").client(service, endpoint_url=f"http://127.0.0.1:{port}")


@pytest.fixture
def batch_world(moto_server, aws_env):
    """A queue, a job definition and a bucket in moto (set up without faults: not under test)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{moto_server}/moto-api/config",
        data=json.dumps({"batch": {"use_docker": False}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request).read()
    iam, batch, s3 = (direct(moto_server, s) for s in ("iam", "batch", "s3"))
    role = iam.create_role(RoleName="batch-faults", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    env = batch.create_compute_environment(
        computeEnvironmentName="faults-cpu", type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]
    batch.create_job_queue(
        jobQueueName="faults-cpu-queue", state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}],
    )
    batch.register_job_definition(
        jobDefinitionName="faults-cpu", type="container",
        containerProperties={"image": "trainer:latest", "vcpus": 1, "memory": 512},
    )
    s3.create_bucket(Bucket="faults-runs", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return StackResources(
        stack_name="faults", region="us-west-2", found=True, bucket="faults-runs",
        gpu_queue="faults-cpu-queue", cpu_queue="faults-cpu-queue",
        gpu_job_definition="faults-cpu", cpu_job_definition="faults-cpu", log_group="/aws/batch/job",
    )


def test_submit_monitor_download_survive_faults(tmp_path, batch_world, fault_proxy):
    backend = AwsBatchBackend(
        batch=client_via(fault_proxy.url, "batch"),
        logs=client_via(fault_proxy.url, "logs"),
        s3=client_via(fault_proxy.url, "s3"),
        stack=batch_world,
    )
    operations, jobs = 0, []
    for index in range(3):
        run = RunLayout(new_run_id(f"faults-{index}"))
        spec = TrainingSpec(dataset="s3://faults-runs/datasets/d/versions/v1", output=backend.store.uri(run.prefix))
        job = backend.submit(JobRequest(job_name=f"faults-{index}", spec=spec, queue="cpu"))
        operations += 1
        jobs.append((job, run))

    model = tmp_path / "model"
    model.mkdir()
    files = {"inference.json": b"{}", "inference.pdiparams": b"\x01" * 50_000, "inference.yml": b"Global: {}\n",
             "metrics.json": b'{"accuracy": 0.98}'}
    for name, data in files.items():
        (model / name).write_bytes(data)

    lines: list[str] = []
    for job, run in jobs:
        # Stands in for the trainer: the model it would publish, through the same faulty S3.
        artifact.publish_artifact(backend.store, run.model, model)
        monitor = JobMonitor(backend, emit=lines.append, sleep=lambda s: None,
                             settings=PollSettings(min_interval=0.01, max_interval=0.02))
        final = monitor.follow(job.job_id)
        assert final.status == "SUCCEEDED"
        result = download_model(backend, final, tmp_path / job.job_id)
        operations += 2
        for name, data in files.items():
            assert (tmp_path / job.job_id / name).read_bytes() == data
    assert fault_proxy.counts["faults"] > 0
    FIGURES["Batch submit+monitor+download @20% faults"] = {
        "requests": fault_proxy.counts["requests"],
        "faults": fault_proxy.counts["faults"],
        "operations_completed": operations,
        "bytes_lost": 0,
    }
