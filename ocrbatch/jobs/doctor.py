"""`ocrbatch doctor`: is this machine and account ready to train? One check per line, pass or what to do.

AWS checks take a client factory (``service name -> botocore client``) so tests inject moto or stubbed
clients. Local checks look at the local home folder and the training packages. Whether the subnets reach
what an instance needs is judged in :mod:`ocrbatch.jobs.network_reach`, whether the caller may run
sweeps in :mod:`ocrbatch.jobs.sweep_access`.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.check_result import FAIL, OK, SKIP, WARN, Check, reason
from ocrbatch.jobs.diagnosis import QUOTA_CODES, family_group, read_quota
from ocrbatch.jobs.network_reach import check_network, subnets_of
from ocrbatch.jobs.stack import read_stack

# <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag][@digest]
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-f]+))?$"
)


def check_aws(
    clients: Callable[[str], object],
    *,
    region: str,
    stack_name: str,
    bucket: str | None = None,
    job_queue: str | None = None,
    stack_named: bool = False,
) -> list[Check]:
    """Credentials, stack, compute environments, queues, image, GPU Spot quota, alerts, network, whether
    the caller may run sweeps (array jobs), bucket.

    Names given explicitly (``--s3-bucket``, ``--job-queue``) are checked too; without the stack they
    are what gets checked, and a missing default stack is then no failure (``stack_named``: the user
    named the stack, so it must be there)."""
    checks: list[Check] = []
    try:
        identity = clients("sts").get_caller_identity()
        checks.append(Check("credentials", OK, f"account {identity['Account']} as {identity['Arn']} in {region}"))
    except Exception as exc:  # noqa: BLE001 - every failure here means the same fix
        checks.append(
            Check("credentials", FAIL, f"{reason(exc)}: run `aws configure`, set AWS_PROFILE, or pass --profile")
        )
        return checks + [Check(name, SKIP, "needs credentials") for name in ("stack", "bucket")]

    stack = read_stack(clients("cloudformation"), stack_name)
    outputs: dict[str, str] = {}
    if stack is None and (bucket or job_queue) and not stack_named:
        checks.append(Check("stack", SKIP, f"stack {stack_name} not found in {region}; checking the names you gave"))
    elif stack is None:
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

    queues = [outputs[k] for k in (keys.GPU_QUEUE, keys.CPU_QUEUE) if outputs.get(k)]
    if job_queue and job_queue not in queues:
        queues.insert(0, job_queue)
    if queues:
        checks += _check_queues(clients("batch"), queues)
    if outputs:
        checks += _check_compute_environments(clients("batch"), outputs)
        checks.append(_check_image(clients("ecr"), outputs.get(keys.IMAGE_URI)))
        checks += _check_gpu_quota(clients("service-quotas"), clients("batch"), outputs)
        checks.append(check_alerts(clients("sns"), outputs.get(keys.ALERT_TOPIC)))
        checks += check_network(clients("ec2"), subnets_of(clients("batch"), _compute_environments(outputs)), region)
        checks.append(_check_spot_prices(clients("ec2")))
    bucket = bucket or outputs.get(keys.BUCKET)
    if bucket and outputs.get(keys.GPU_QUEUE) and outputs.get(keys.GPU_JOB_DEFINITION):
        from ocrbatch.jobs.sweep_access import check_sweep_access

        checks.append(check_sweep_access(clients("iam"), identity, region, outputs, bucket))
    checks.append(_check_bucket(clients("s3"), bucket))
    return checks


def _compute_environments(outputs: dict) -> list[str]:
    return [outputs[k] for k in (keys.GPU_SPOT_COMPUTE_ENV, keys.GPU_ON_DEMAND_COMPUTE_ENV, keys.CPU_COMPUTE_ENV) if outputs.get(k)]


def _check_compute_environments(batch, outputs: dict) -> list[Check]:
    names = _compute_environments(outputs)
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
            checks.append(Check(label, FAIL, "not found: check --job-queue and --region, or run `cdk deploy`"))
        elif ce.get("status") != "VALID":
            why = ce.get("statusReason") or "see the Batch console"
            checks.append(Check(label, FAIL, f"{ce.get('state')}/{ce.get('status')}: {why}"))
        elif ce.get("state") != "ENABLED":
            fix = f"aws batch update-compute-environment --compute-environment {_short(name)} --state ENABLED"
            checks.append(Check(label, FAIL, f"{ce.get('state')}/{ce.get('status')}: enable it: {fix}"))
        else:
            checks.append(Check(label, OK, "ENABLED and VALID"))
    return checks


def _check_queues(batch, names: list[str]) -> list[Check]:
    found = {}
    for queue in batch.describe_job_queues(jobQueues=names).get("jobQueues", []):
        found[queue["jobQueueName"]] = queue
        found[queue["jobQueueArn"]] = queue
    checks = []
    for name in names:
        queue = found.get(name)
        label = f"job queue {_short(name)}"
        if queue is None:
            checks.append(Check(label, FAIL, "not found: check --job-queue and --region, or run `cdk deploy`"))
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
        return Check("training image", FAIL, f"{image_uri}: {reason(exc)}: run `cdk deploy` to build and push it")
    return Check("training image", OK, image_uri)


def _check_gpu_quota(quotas, batch, outputs: dict) -> list[Check]:
    """vCPU quotas for the GPU families of the Spot environment (G/VT by default) and of the on-demand one."""
    checks = []
    for spot, key in ((True, keys.GPU_SPOT_COMPUTE_ENV), (False, keys.GPU_ON_DEMAND_COMPUTE_ENV)):
        name = outputs.get(key)
        if not spot and not name:
            continue  # no on-demand fallback deployed
        groups = {"G"}
        if name:
            environments = batch.describe_compute_environments(computeEnvironments=[name]).get("computeEnvironments", [])
            types = [t for ce in environments for t in (ce.get("computeResources") or {}).get("instanceTypes", [])]
            groups = {family_group(t) for t in types} - {None} or groups
        checks += [_quota_check(quotas, spot, group) for group in sorted(groups)]
    return checks


def _quota_check(quotas, spot: bool, group: str) -> Check:
    code, title = QUOTA_CODES[(spot, group)]
    value = read_quota(quotas, code)
    label = f"GPU {'Spot' if spot else 'on-demand'} quota ({group})"
    if value is None:
        return Check(label, WARN, f"could not read {code} \"{title}\" (needs servicequotas:GetServiceQuota)")
    if value > 0:
        return Check(label, OK, f"\"{title}\" is {value:g} vCPUs")
    increase = (
        f"request an increase (aws service-quotas request-service-quota-increase --service-code ec2 "
        f"--quota-code {code} --desired-value 8)"
    )
    if spot:
        return Check(
            label,
            FAIL,
            f"\"{title}\" is 0 vCPUs, so no Spot GPU instance can start: {increase}; Batch does not move jobs "
            "to the on-demand environment when Spot instances cannot launch, so GPU jobs may wait in RUNNABLE",
        )
    return Check(label, WARN, f"\"{title}\" is 0 vCPUs, so the on-demand fallback can never start an instance: {increase}")


def check_alerts(sns, topic_arn: str | None) -> Check:
    """Someone must be subscribed to the alert topic, or failed jobs and INVALID environments go unnoticed."""
    if not topic_arn:
        return Check("alerts", WARN, f"the stack has no {keys.ALERT_TOPIC} output (older stack?): run `cdk deploy`")
    try:
        found = sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    except Exception as exc:  # noqa: BLE001
        return Check("alerts", WARN, f"could not list subscriptions of {topic_arn}: {reason(exc)}")
    confirmed = [s for s in found if s.get("SubscriptionArn", "").startswith("arn:")]
    if confirmed:
        endpoints = ", ".join(s.get("Endpoint", "?") for s in confirmed)
        return Check("alerts", OK, f"failed jobs, blocked queues and INVALID environments are sent to {endpoints}")
    if found:
        return Check("alerts", WARN, "the alert subscription is not confirmed yet: click the link in AWS's e-mail")
    return Check(
        "alerts",
        WARN,
        "nobody is told about failed jobs, blocked queues or INVALID environments: set OCRBATCH_ALERT_EMAIL "
        f"and run `cdk deploy`, or: aws sns subscribe --topic-arn {topic_arn} --protocol email "
        "--notification-endpoint you@example.com",
    )


def _check_bucket(s3, bucket: str | None) -> Check:
    if not bucket:
        return Check("bucket", SKIP, "no bucket known: deploy the stack or pass --s3-bucket")
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception as exc:  # noqa: BLE001
        return Check("bucket", FAIL, f"s3://{bucket}: {reason(exc)}: check the name, region and your permissions")
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
    checks.append(check_stray_trainers(home))
    return checks


def check_stray_trainers(home: Path) -> Check:
    """A process of a local job that no runner answers for trains beside the slot's job and may publish."""
    from ocrbatch.jobs.local import stray_processes

    strays = stray_processes(home)
    if not strays:
        return Check("local processes", OK, "every running trainer belongs to a job's live runner")
    named = "; ".join(f"job {job_id}: pid {', '.join(map(str, pids))}" for job_id, pids in strays.items())
    stop = " ".join(f"ocrbatch cancel {job_id};" for job_id in strays).rstrip(";")
    return Check("local processes", FAIL, f"stray trainer processes ({named}): stop them with {stop}")


def _check_spot_prices(ec2) -> Check:
    from ocrbatch.jobs.pricing import spot_prices_unreadable

    refused = spot_prices_unreadable(ec2)
    if refused is None:
        return Check("spot prices", OK, "readable: `submit --dry-run` estimates and `list`/`monitor` price runs")
    return Check("spot prices", WARN, f"cannot read them ({refused}): costs stay unknown; attach the stack's "
                 f"{keys.CLI_USER_POLICY} policy (it allows ec2:DescribeSpotPriceHistory)")


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]
