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
            Check("credentials", FAIL, f"{_reason(exc)}: run `aws configure`, set AWS_PROFILE, or pass --profile")
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
        checks += check_network(clients("ec2"), _subnets_of(clients("batch"), outputs), region)
        checks.append(_check_spot_prices(clients("ec2")))
    bucket = bucket or outputs.get(keys.BUCKET)
    if bucket and outputs.get(keys.GPU_QUEUE) and outputs.get(keys.GPU_JOB_DEFINITION):
        from ocrbatch.jobs.sweep_access import check_sweep_access

        checks.append(check_sweep_access(clients("iam"), identity, region, outputs, bucket))
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
        return Check("training image", FAIL, f"{image_uri}: {_reason(exc)}: run `cdk deploy` to build and push it")
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
        return Check("alerts", WARN, f"could not list subscriptions of {topic_arn}: {_reason(exc)}")
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


# What an instance must reach to join its compute environment and run a job, when it has no route to
# the internet: the ECS agent (ecs, ecs-agent, ecs-telemetry), the image (ecr.api, ecr.dkr, and S3 for
# ECR's layers), the job's log stream (logs). S3 is a gateway endpoint; the others are interface ones.
INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "ecs", "ecs-agent", "ecs-telemetry", "logs")
DEFAULT_ROUTE = "0.0.0.0/0"


def _subnets_of(batch, outputs: dict) -> list[str]:
    names = [outputs[k] for k in (keys.GPU_SPOT_COMPUTE_ENV, keys.GPU_ON_DEMAND_COMPUTE_ENV, keys.CPU_COMPUTE_ENV) if outputs.get(k)]
    if not names:
        return []
    environments = batch.describe_compute_environments(computeEnvironments=names).get("computeEnvironments", [])
    subnets = {s for ce in environments for s in (ce.get("computeResources") or {}).get("subnets", [])}
    return sorted(subnets)


def check_network(ec2, subnet_ids: list[str], region: str) -> list[Check]:
    """Can instances in each subnet reach ECS, ECR, S3 and CloudWatch Logs? (Else they bill and never register.)"""
    if not subnet_ids:
        return []
    try:
        subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"]
    except Exception as exc:  # noqa: BLE001
        return [Check("network", WARN, f"could not read subnets {', '.join(subnet_ids)}: {_reason(exc)}")]
    checks = []
    for subnet in subnets:
        try:
            table = _route_table(ec2, subnet)
            endpoints = ec2.describe_vpc_endpoints(
                Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]}]
            ).get("VpcEndpoints", [])
        except Exception as exc:  # noqa: BLE001
            checks.append(Check(f"network {subnet['SubnetId']}", WARN, f"could not read its routes: {_reason(exc)}"))
            continue
        checks.append(_subnet_check(subnet, table, endpoints, region))
    return checks


def _route_table(ec2, subnet: dict) -> dict | None:
    """The subnet's own route table, else its VPC's main one."""
    for filters in (
        [{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}],
        [{"Name": "vpc-id", "Values": [subnet["VpcId"]]}, {"Name": "association.main", "Values": ["true"]}],
    ):
        tables = ec2.describe_route_tables(Filters=filters).get("RouteTables", [])
        if tables:
            return tables[0]
    return None


def _subnet_check(subnet: dict, table: dict | None, endpoints: list[dict], region: str) -> Check:
    label, vpc = f"network {subnet['SubnetId']}", subnet["VpcId"]
    routes = (table or {}).get("Routes", [])
    table_id = (table or {}).get("RouteTableId", "?")
    default = next((r for r in routes if r.get("DestinationCidrBlock") == DEFAULT_ROUTE), None)
    available = [e for e in endpoints if e.get("State", "available").lower() == "available"]
    s3_gateway = any(
        e.get("ServiceName", "").endswith(".s3") and e.get("VpcEndpointType") == "Gateway" and table_id in e.get("RouteTableIds", [])
        for e in available
    )
    add_s3 = (
        f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --service-name com.amazonaws.{region}.s3 "
        f"--route-table-ids {table_id}"
    )
    if default and default.get("State") == "blackhole":
        return Check(label, FAIL, f"its default route in {table_id} is a blackhole: instances would never register")
    if default and default.get("NatGatewayId"):
        via = f"NAT gateway {default['NatGatewayId']}"
    elif default and str(default.get("GatewayId", "")).startswith("igw-"):
        if not subnet.get("MapPublicIpOnLaunch"):
            return Check(
                label,
                FAIL,
                f"routes to internet gateway {default['GatewayId']} but gives instances no public IP, so they "
                "cannot reach ECS or ECR: use private subnets behind a NAT gateway",
            )
        via = f"internet gateway {default['GatewayId']} (public IPs)"
    elif default:
        target = next((v for k, v in default.items() if k.endswith("Id") and k != "DestinationPrefixListId"), "?")
        return Check(label, WARN, f"default route via {target}: doctor cannot see past it; it must reach ECS, ECR, S3 and Logs")
    else:
        have = {_service_suffix(e.get("ServiceName", ""), region) for e in available if e.get("VpcEndpointType") == "Interface"}
        missing = [name for name in INTERFACE_ENDPOINTS if name not in have]
        if not s3_gateway:
            missing.append("s3 (gateway)")
        if missing:
            return Check(
                label,
                FAIL,
                f"no route to the internet in {table_id} and no VPC endpoint for {', '.join(missing)}: instances "
                "would start, bill and never register; add a NAT gateway route, or those endpoints "
                f"(com.amazonaws.{region}.<name>, private DNS on)",
            )
        return Check(
            label,
            OK,
            "reaches ECS, ECR, S3 and Logs through VPC endpoints (models without weights in the image need the "
            "internet to download theirs)",
        )
    if not s3_gateway:
        return Check(
            label,
            WARN,
            f"reaches the internet via {via}, but S3 traffic (datasets, checkpoints, image layers) pays NAT "
            f"processing (~$0.045/GB): add the free S3 gateway endpoint: {add_s3}",
        )
    return Check(label, OK, f"reaches the internet via {via}; S3 through its gateway endpoint")


def _service_suffix(service_name: str, region: str) -> str:
    """``com.amazonaws.us-west-2.ecr.dkr`` -> ``ecr.dkr``."""
    marker = f".{region}."
    return service_name.split(marker, 1)[1] if marker in service_name else service_name


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


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]
