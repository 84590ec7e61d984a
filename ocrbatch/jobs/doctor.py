"""`ocrbatch doctor`: is this machine and account ready to train? One check per line, pass or what to do.

AWS checks take a client factory (``service name -> botocore client``) so tests inject moto or stubbed
clients. Local checks look at the local home folder and the training packages.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.diagnosis import QUOTA_CODES, family_group, read_quota
from ocrbatch.jobs.stack import read_stack

OK, FAIL, WARN, SKIP = "ok", "fail", "warn", "skip"

# <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag][@digest]
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$"
)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, fail, warn, skip
    detail: str

    def to_json(self) -> dict:
        return asdict(self)


def failed(checks: list[Check]) -> bool:
    return any(check.status == FAIL for check in checks)


def check_aws(
    clients: Callable[[str], object],
    *,
    region: str,
    stack_name: str,
    bucket: str | None = None,
) -> list[Check]:
    """Credentials, stack, compute environments, queues, image, GPU Spot quota, bucket."""
    checks: list[Check] = []
    try:
        identity = clients("sts").get_caller_identity()
        checks.append(Check("credentials", OK, f"account {identity['Account']} as {identity['Arn']} in {region}"))
    except Exception as exc:  # noqa: BLE001 - every failure here means the same fix
        checks.append(
            Check("credentials", FAIL, f"{_reason(exc)}: run `aws configure`, set AWS_PROFILE, or pass --profile")
        )
        return checks + [Check(name, SKIP, "needs credentials") for name in ("stack", "bucket")]

    stack = read_stack(clients("cloudformation"), stack_name)
    outputs: dict[str, str] = {}
    if stack is None:
        checks.append(
            Check("stack", FAIL, f"stack {stack_name} not found in {region}: run `cdk deploy`, or pass --stack / --region")
        )
    else:
        status, outputs = stack
        missing = [key for key in keys.REQUIRED if not outputs.get(key)]
        if not status.endswith("_COMPLETE") or "ROLLBACK" in status or status.startswith("DELETE"):
            checks.append(Check("stack", FAIL, f"stack {stack_name} is {status}: fix the deployment and run `cdk deploy`"))
        elif missing:
            checks.append(
                Check("stack", FAIL, f"stack {stack_name} lacks outputs {', '.join(missing)}: run `cdk deploy` from this version")
            )
        else:
            checks.append(Check("stack", OK, f"{stack_name} is {status}"))

    if outputs:
        checks += _check_compute_environments(clients("batch"), outputs)
        checks += _check_queues(clients("batch"), outputs)
        checks.append(_check_image(clients("ecr"), outputs.get(keys.IMAGE_URI)))
        checks += _check_gpu_quota(clients("service-quotas"), clients("batch"), outputs)
    bucket = bucket or outputs.get(keys.BUCKET)
    checks.append(_check_bucket(clients("s3"), bucket))
    return checks


def _check_compute_environments(batch, outputs: dict) -> list[Check]:
    names = [outputs[k] for k in (keys.GPU_SPOT_COMPUTE_ENV, keys.GPU_ON_DEMAND_COMPUTE_ENV, keys.CPU_COMPUTE_ENV) if outputs.get(k)]
    if not names:
        return [Check("compute environments", WARN, "the stack names none (older stack?): run `cdk deploy`")]
    found = {
        ce["computeEnvironmentName"]: ce
        for ce in batch.describe_compute_environments(computeEnvironments=names).get("computeEnvironments", [])
    }
    found.update({ce["computeEnvironmentArn"]: ce for ce in found.values()})
    checks = []
    for name in names:
        ce = found.get(name)
        label = f"compute environment {_short(name)}"
        if ce is None:
            checks.append(Check(label, FAIL, "not found: run `cdk deploy`"))
        elif ce.get("status") != "VALID":
            why = ce.get("statusReason") or "see the Batch console"
            checks.append(Check(label, FAIL, f"{ce.get('state')}/{ce.get('status')}: {why}"))
        elif ce.get("state") != "ENABLED":
            fix = f"aws batch update-compute-environment --compute-environment {_short(name)} --state ENABLED"
            checks.append(Check(label, FAIL, f"{ce.get('state')}/{ce.get('status')}: enable it: {fix}"))
        else:
            checks.append(Check(label, OK, "ENABLED and VALID"))
    return checks


def _check_queues(batch, outputs: dict) -> list[Check]:
    names = [outputs[k] for k in (keys.GPU_QUEUE, keys.CPU_QUEUE) if outputs.get(k)]
    found = {}
    for queue in batch.describe_job_queues(jobQueues=names).get("jobQueues", []):
        found[queue["jobQueueName"]] = queue
        found[queue["jobQueueArn"]] = queue
    checks = []
    for name in names:
        queue = found.get(name)
        label = f"job queue {_short(name)}"
        if queue is None:
            checks.append(Check(label, FAIL, "not found: run `cdk deploy`"))
        elif queue.get("state") != "ENABLED" or queue.get("status") != "VALID":
            why = queue.get("statusReason") or f"enable it: aws batch update-job-queue --job-queue {_short(name)} --state ENABLED"
            checks.append(Check(label, FAIL, f"{queue.get('state')}/{queue.get('status')}: {why}"))
        else:
            checks.append(Check(label, OK, "ENABLED and VALID"))
    return checks


def _check_image(ecr, image_uri: str | None) -> Check:
    if not image_uri:
        return Check("training image", WARN, f"the stack has no {keys.IMAGE_URI} output: run `cdk deploy`")
    match = _ECR_IMAGE.match(image_uri)
    if not match:
        return Check("training image", WARN, f"{image_uri} is not in ECR; not checked")
    image_id = {"imageDigest": match["digest"]} if match["digest"] else {"imageTag": match["tag"] or "latest"}
    try:
        ecr.describe_images(registryId=match["account"], repositoryName=match["repo"], imageIds=[image_id])
    except Exception as exc:  # noqa: BLE001
        return Check("training image", FAIL, f"{image_uri}: {_reason(exc)}: run `cdk deploy` to build and push it")
    return Check("training image", OK, image_uri)


def _check_gpu_quota(quotas, batch, outputs: dict) -> list[Check]:
    """Spot vCPU quota for the GPU families the Spot environment uses (G/VT by default)."""
    groups = {"G"}
    name = outputs.get(keys.GPU_SPOT_COMPUTE_ENV)
    if name:
        environments = batch.describe_compute_environments(computeEnvironments=[name]).get("computeEnvironments", [])
        types = [t for ce in environments for t in (ce.get("computeResources") or {}).get("instanceTypes", [])]
        groups = {family_group(t) for t in types} - {None} or groups
    checks = []
    for group in sorted(groups):
        code, title = QUOTA_CODES[(True, group)]
        value = read_quota(quotas, code)
        label = f"GPU Spot quota ({group})"
        if value is None:
            checks.append(Check(label, WARN, f"could not read {code} \"{title}\" (needs servicequotas:GetServiceQuota)"))
        elif value <= 0:
            checks.append(
                Check(
                    label,
                    FAIL,
                    f"\"{title}\" is 0 vCPUs, so no Spot GPU instance can start: request an increase "
                    f"(aws service-quotas request-service-quota-increase --service-code ec2 --quota-code {code} "
                    "--desired-value 8); jobs fall back to on-demand meanwhile",
                )
            )
        else:
            checks.append(Check(label, OK, f"\"{title}\" is {value:g} vCPUs"))
    return checks


def _check_bucket(s3, bucket: str | None) -> Check:
    if not bucket:
        return Check("bucket", SKIP, "no bucket known: deploy the stack or pass --s3-bucket")
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as exc:  # noqa: BLE001
        return Check("bucket", FAIL, f"s3://{bucket}: {_reason(exc)}: check the name, region and your permissions")
    return Check("bucket", OK, f"s3://{bucket} is reachable")


def check_local(home: Path) -> list[Check]:
    """Local mode needs a writable home and the training packages (the `train` extra)."""
    checks = []
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".doctor-"):
            pass
        checks.append(Check("local home", OK, f"{home} is writable"))
    except OSError as exc:
        checks.append(Check("local home", FAIL, f"{home}: {exc.strerror}: pass --home DIR or set OCRBATCH_HOME"))
    for module, package, use in (("paddle", "paddlepaddle", "training"), ("paddleocr", "paddleocr", "inference")):
        if importlib.util.find_spec(module) is None:
            checks.append(Check(package, FAIL, f"not installed (needed for {use}): pip install 'ocrbatch[train]'"))
        else:
            checks.append(Check(package, OK, f"installed ({use})"))
    checks.append(Check("cpu cores", OK, f"{os.cpu_count()} available for local training"))
    return checks


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]
