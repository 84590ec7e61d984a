"""AwsBatchBackend against moto (submit, describe, list, logs) and botocore's Stubber (cancel/terminate)."""

import time

import boto3
import pytest
from botocore.stub import Stubber

from ocrbatch import stack_outputs as keys
from ocrbatch.errors import BadInput, NotFound
from ocrbatch.jobs.aws_batch import AwsBatchBackend, job_info
from ocrbatch.jobs.backend import JobRequest
from ocrbatch.jobs.stack import discover_stack
from ocrbatch.trainer.spec import TrainingSpec
from tests.jobs_fakes import REGION


def make_backend(**overrides):
    stack = discover_stack(boto3.client("cloudformation", region_name=REGION), region=REGION, **overrides)
    return AwsBatchBackend(
        batch=boto3.client("batch", region_name=REGION),
        logs=boto3.client("logs", region_name=REGION),
        s3=boto3.client("s3", region_name=REGION),
        stack=stack,
    )


def request(backend, *, queue="gpu", gpus=1, **spec_values):
    spec = TrainingSpec(
        dataset=backend.store.uri("datasets/pinball/versions/v1"),
        output=backend.store.uri("runs/20261129-184000-pinball-abc123/"),
        **spec_values,
    )
    return JobRequest(job_name="pinball", spec=spec, queue=queue, gpus=gpus)


def test_submit_passes_the_spec_as_environment_and_reads_back(deployment):
    backend = make_backend()
    req = request(backend, epochs=5, learning_rate=0.001, overrides={"Global.use_amp": "true"})
    kwargs = backend.submit_job_kwargs(req)
    assert kwargs["jobQueue"] == deployment[keys.GPU_QUEUE]
    assert kwargs["jobDefinition"] == deployment[keys.GPU_JOB_DEFINITION]
    env = {item["name"]: item["value"] for item in kwargs["containerOverrides"]["environment"]}
    assert env == req.spec.to_env()
    assert "resourceRequirements" not in kwargs["containerOverrides"]
    assert kwargs["tags"]["ocrbatch:run-id"] == "20261129-184000-pinball-abc123"

    submitted = backend.submit(req)
    assert submitted.status == "SUBMITTED" and submitted.output == req.spec.output
    job = backend.describe(submitted.job_id)  # moto without Docker: SUCCEEDED at once
    assert job.status == "SUCCEEDED"
    assert job.output == req.spec.output and job.dataset == req.spec.dataset
    assert job.queue == deployment[keys.GPU_QUEUE]
    assert job.log_stream and len(job.attempts) == 1

    assert [j.job_id for j in backend.list_jobs()] == [submitted.job_id]


def test_multi_gpu_and_cpu_choose_their_definitions(deployment):
    backend = make_backend()
    multi = backend.submit_job_kwargs(request(backend, gpus=4))
    assert multi["jobDefinition"] == deployment[keys.MULTI_GPU_JOB_DEFINITION]
    assert multi["containerOverrides"]["resourceRequirements"] == [{"type": "GPU", "value": "4"}]
    cpu = backend.submit_job_kwargs(request(backend, queue="cpu"))
    assert (cpu["jobQueue"], cpu["jobDefinition"]) == (deployment[keys.CPU_QUEUE], deployment[keys.CPU_JOB_DEFINITION])
    with pytest.raises(BadInput):
        backend.submit_job_kwargs(request(backend, queue="cpu", gpus=2))


def test_seed_flags_pick_queue_and_definition(deployment):
    backend = make_backend(job_queue="my-queue", job_definition="my-def")
    kwargs = backend.submit_job_kwargs(request(backend))
    assert (kwargs["jobQueue"], kwargs["jobDefinition"]) == ("my-queue", "my-def")


def test_unknown_job_is_not_found(deployment):
    with pytest.raises(NotFound, match="no job"):
        make_backend().describe("does-not-exist")


def test_spot_reclaim_attempt_is_recognised():
    raw = {
        "jobId": "j", "jobName": "n", "status": "RUNNABLE",
        "jobQueue": "arn:aws:batch:us-west-2:1:job-queue/gpu-q",
        "createdAt": 1_000_000, "retryStrategy": {"attempts": 3},
        "attempts": [
            {"container": {"logStreamName": "s1"}, "startedAt": 2_000_000, "stoppedAt": 3_000_000,
             "statusReason": "Host EC2 (instance i-0abc) terminated."},
            {"container": {"exitCode": 1, "reason": "OutOfMemoryError: Container killed", "logStreamName": "s2"},
             "startedAt": 4_000_000, "stoppedAt": 5_000_000},
        ],
        "container": {"environment": [{"name": "OCRBATCH_OUTPUT", "value": "s3://b/runs/r/"}]},
    }
    info = job_info(raw)
    assert info.queue == "gpu-q" and info.created_at == 1000.0 and info.output == "s3://b/runs/r/"
    assert info.attempts[0].spot_reclaimed and not info.attempts[1].spot_reclaimed
    assert info.attempts[1].exit_code == 1 and "OutOfMemory" in info.attempts[1].reason


@pytest.mark.parametrize(("status", "reason", "cancelled"), [
    ("FAILED", "cancelled with ocrbatch cancel", True),
    ("FAILED", "cancelled with ocrbatch cancel: wrong learning rate", True),
    ("FAILED", "Essential container in task exited", False),
    ("FAILED", "Terminated by user", False),  # someone else's cancel (the console): we do not know why
    ("RUNNING", "cancelled with ocrbatch cancel", False),  # asked, still stopping: not ended yet
])
def test_a_job_is_cancelled_when_it_failed_with_the_reason_ocrbatch_cancel_sent(status, reason, cancelled):
    info = job_info({"jobId": "j", "jobName": "n", "jobQueue": "q", "status": status, "statusReason": reason,
                     "jobDefinition": "d"})
    assert info.cancelled is cancelled and info.to_json()["cancelled"] is cancelled


@pytest.mark.parametrize(
    ("status", "operation"),
    [("RUNNABLE", "cancel_job"), ("SUBMITTED", "cancel_job"), ("RUNNING", "terminate_job"),
     ("STARTING", "terminate_job"), ("SUCCEEDED", None)],
)
def test_cancel_or_terminate_as_the_state_needs(clean_env, status, operation):
    from ocrbatch.jobs.stack import StackResources

    batch = boto3.client("batch", region_name=REGION)
    stub = Stubber(batch)
    stub.add_response(
        "describe_jobs",
        {"jobs": [{"jobId": "j", "jobName": "n", "jobQueue": "q", "status": status, "startedAt": 1,
                   "jobDefinition": "d"}]},
        {"jobs": ["j"]},
    )
    if operation:
        stub.add_response(operation, {}, {"jobId": "j", "reason": "because"})
    backend = AwsBatchBackend(batch=batch, logs=None, s3=None, stack=StackResources("s", REGION, found=False))
    with stub:
        before = backend.cancel("j", "because")
    stub.assert_no_pending_responses()
    assert before.status == status


def test_log_events_follow_the_stream_and_survive_its_absence(deployment):
    backend = make_backend()
    job = backend.submit(request(backend))
    stream = backend.describe(job.job_id).log_stream
    logs = boto3.client("logs", region_name=REGION)
    group = deployment[keys.LOG_GROUP]

    # Batch names the stream before the container writes to it: no stream yet -> no lines, same token.
    assert backend.log_events(job.job_id) == ([], None)

    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now, "message": "epoch 1"}, {"timestamp": now + 1, "message": "epoch 2"}])
    lines, token = backend.log_events(job.job_id)
    assert lines == ["epoch 1", "epoch 2"]
    assert backend.log_events(job.job_id, start_from=token)[0] == []
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now + 2, "message": "done"}])
    assert backend.log_events(job.job_id, start_from=token)[0] == ["done"]

    # A token from another attempt's stream restarts at the head of the current one.
    assert backend.log_events(job.job_id, start_from="old-stream\nf/123")[0] == ["epoch 1", "epoch 2", "done"]
