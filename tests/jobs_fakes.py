"""Test doubles for the job lifecycle: a scripted backend, a fake clock, a fake dataset catalogue."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import boto3

from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.backend import Attempt, JobInfo, JobRequest
from ocrbatch.layout import RunLayout
from ocrbatch.storage import LocalStore

RUN_ID = "20261129-184000-pinball-abc123"
REGION = "us-west-2"
ACCOUNT = "123456789012"


class FakeClock:
    """``clock()`` and ``sleep()`` that share one virtual time: sleeping is instant."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def job_state(status: str, *, reason=None, attempts=(), log_stream=None, created_at=1_800_000_000.0, store=None):
    output = (store.uri(RunLayout(RUN_ID).prefix) if store else f"s3://bucket/runs/{RUN_ID}/")
    return JobInfo(
        job_id="job-1",
        job_name="pinball",
        status=status,
        status_reason=reason,
        created_at=created_at,
        queue="gpu",
        output=output,
        dataset="s3://bucket/datasets/pinball/versions/v1",
        attempts=tuple(attempts),
        log_stream=log_stream,
    )


SPOT_RECLAIM = Attempt(
    started_at=1_800_000_100.0,
    stopped_at=1_800_000_400.0,
    exit_code=None,
    reason="Host EC2 (instance i-0abc123) terminated.",
    log_stream="gpu/default/attempt-1",
)


class ScriptedBackend:
    """A JobBackend whose describe() walks through a script of states (the last one repeats).

    ``progress`` maps a poll number to a progress.json written before that poll; ``logs`` maps a
    poll number to log lines that become readable at that poll (a stream appearing late).
    """

    name = "fake"

    def __init__(self, root: Path, states: list[JobInfo], *, logs=None, progress=None, errors=None):
        self.store = LocalStore(root)
        self.states = states
        self.polls = 0
        self.logs = dict(logs or {})
        self.progress = dict(progress or {})
        self.errors = dict(errors or {})  # poll number -> exception raised by describe
        self.cancelled: list[tuple[str, str]] = []
        self.submitted: list[JobRequest] = []
        self.diagnosed = 0
        self._log_lines: list[str] = []

    def describe(self, job_id: str) -> JobInfo:
        poll = self.polls
        self.polls += 1
        if poll in self.errors:
            raise self.errors.pop(poll)
        if poll in self.progress:
            self.store.put_bytes(RunLayout(RUN_ID).progress, json.dumps(self.progress[poll]).encode())
        if poll in self.logs:
            self._log_lines.extend(self.logs[poll])
        return self.states[min(poll, len(self.states) - 1)]

    def list_jobs(self, *, limit: int = 50) -> list[JobInfo]:
        return [self.states[min(self.polls, len(self.states) - 1)]][:limit]

    def cancel(self, job_id: str, reason: str) -> JobInfo:
        self.cancelled.append((job_id, reason))
        return self.states[0]

    def submit(self, request: JobRequest) -> JobInfo:
        self.submitted.append(request)
        return replace(self.states[0], job_name=request.job_name, output=request.spec.output,
                       dataset=request.spec.dataset)

    def log_events(self, job_id: str, *, start_from: str | None = None):
        offset = int(start_from or 0)
        if not self._log_lines:
            return [], start_from
        return self._log_lines[offset:], str(len(self._log_lines))

    def diagnose(self, job_id: str) -> list[str]:
        self.diagnosed += 1
        return ["compute environment gpu-spot: vCPU quota is 0"]


@dataclass(frozen=True)
class FakeDatasetVersion:
    uri: str
    key: str = ""
    version_id: str = "v1"


class FakeCatalogue:
    """Stands in for ocrbatch.datasets' publish_dataset / resolve_version."""

    def __init__(self):
        self.published: list[tuple[Path, str]] = []
        self.resolved: list[str] = []

    def publish_dataset(self, store, folder, *, name=None, **_):
        self.published.append((Path(folder), name))
        return FakeDatasetVersion(uri=store.uri(f"datasets/{name}/versions/v1"))

    def resolve_version(self, store, ref):
        from ocrbatch.errors import NotFound

        self.resolved.append(ref)
        if ref.startswith("missing"):
            raise NotFound(f"no dataset version {ref!r}")
        name = ref.split("@")[0]
        return FakeDatasetVersion(uri=store.uri(f"datasets/{name}/versions/v1"))


@dataclass(frozen=True)
class Deployment:
    stack_name: str
    outputs: dict[str, str]

    def __getitem__(self, key: str) -> str:
        return self.outputs[key]


def deploy_fake_stack(stack_name: str = keys.DEFAULT_STACK_NAME, *, with_outputs=keys.ALL) -> Deployment:
    """Create what the CDK stack would (bucket, queues, job definitions, log group, image) in moto
    and a CloudFormation stack whose outputs name them. moto cannot deploy the CDK template itself."""
    prefix = "pinball-ocr-training"
    s3 = boto3.client("s3", region_name=REGION)
    bucket = f"{prefix}-data-{ACCOUNT}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})

    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"{prefix}-batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = boto3.client("batch", region_name=REGION)
    envs = {}
    for name in ("gpu-spot", "gpu-ondemand", "cpu"):
        envs[name] = batch.create_compute_environment(
            computeEnvironmentName=f"{prefix}-{name}", type="UNMANAGED", state="ENABLED", serviceRole=role
        )["computeEnvironmentArn"]
    queues = {}
    for name, order in (("gpu", ["gpu-spot", "gpu-ondemand"]), ("cpu", ["cpu"])):
        queues[name] = f"{prefix}-{name}-queue"
        batch.create_job_queue(
            jobQueueName=queues[name],
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": i + 1, "computeEnvironment": envs[ce]} for i, ce in enumerate(order)],
        )
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/cdk-assets:abc123"
    definitions = {}
    for name, vcpus, memory, gpus in (("gpu", 4, 15000, 1), ("multi-gpu", 32, 120000, 4), ("cpu", 4, 7000, 0)):
        requirements = [{"type": "VCPU", "value": str(vcpus)}, {"type": "MEMORY", "value": str(memory)}]
        if gpus:
            requirements.append({"type": "GPU", "value": str(gpus)})
        definitions[name] = f"{prefix}-{name}"
        batch.register_job_definition(
            jobDefinitionName=definitions[name],
            type="container",
            containerProperties={"image": image, "resourceRequirements": requirements},
            retryStrategy={"attempts": 3},
        )
    log_group = f"/aws/batch/{prefix}"
    boto3.client("logs", region_name=REGION).create_log_group(logGroupName=log_group)

    ecr = boto3.client("ecr", region_name=REGION)
    ecr.create_repository(repositoryName="cdk-assets")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
    ecr.put_image(repositoryName="cdk-assets", imageManifest=json.dumps(manifest), imageTag="abc123")

    outputs = {
        keys.BUCKET: bucket,
        keys.GPU_QUEUE: queues["gpu"],
        keys.CPU_QUEUE: queues["cpu"],
        keys.GPU_JOB_DEFINITION: definitions["gpu"],
        keys.MULTI_GPU_JOB_DEFINITION: definitions["multi-gpu"],
        keys.CPU_JOB_DEFINITION: definitions["cpu"],
        keys.LOG_GROUP: log_group,
        keys.REGION: REGION,
        keys.IMAGE_URI: image,
        # The real stack outputs compute environment ARNs.
        keys.GPU_SPOT_COMPUTE_ENV: envs["gpu-spot"],
        keys.GPU_ON_DEMAND_COMPUTE_ENV: envs["gpu-ondemand"],
        keys.CPU_COMPUTE_ENV: envs["cpu"],
    }
    outputs = {k: v for k, v in outputs.items() if k in with_outputs}
    template = {
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=stack_name, TemplateBody=json.dumps(template)
    )
    return Deployment(stack_name, outputs)


class FakeQuotas:
    """Service Quotas (moto has no EC2 quotas): fixed values per quota code."""

    def __init__(self, values: dict[str, float] | None = None, *, denied: bool = False):
        self.values = values or {}
        self.denied = denied
        self.asked: list[str] = []

    def get_service_quota(self, *, ServiceCode, QuotaCode):
        from botocore.exceptions import ClientError

        self.asked.append(QuotaCode)
        if self.denied or QuotaCode not in self.values:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "GetServiceQuota")
        return {"Quota": {"ServiceCode": ServiceCode, "QuotaCode": QuotaCode, "Value": self.values[QuotaCode]}}

    def get_aws_default_service_quota(self, *, ServiceCode, QuotaCode):
        return self.get_service_quota(ServiceCode=ServiceCode, QuotaCode=QuotaCode)


def publish_fake_model(store, run_prefix: str, tmp_path: Path, *, accuracy: float = 0.97, weights: bytes = b"w" * 64):
    """Publish a small artifact the way the trainer does (files, then manifest last)."""
    from ocrbatch.artifact import publish_artifact

    folder = tmp_path / f"model-{len(list(tmp_path.glob('model-*')))}"
    folder.mkdir()
    (folder / "inference.json").write_text("{}")
    (folder / "inference.pdiparams").write_bytes(weights)
    (folder / "inference.yml").write_text("Global:\n  model_name: PP-OCRv5_mobile_rec\n")
    (folder / "metrics.json").write_text(json.dumps({"accuracy": accuracy}))
    return publish_artifact(store, run_prefix + "model/", folder)
