"""Why a Batch job sits in RUNNABLE: the checks a person would otherwise do by hand in four consoles.

Given the job's description and injected ``batch`` / ``service-quotas`` / ``ec2`` clients, it looks at
the job queue, each compute environment behind it (state, status, max vCPUs against desired), whether
any allowed instance type can hold the job's vCPUs, memory and GPUs, and the account's vCPU quotas
for G/VT and P instances (Spot or on-demand, matching each environment). Each finding is one line
saying what is wrong and what to do; when nothing is wrong it says so and why waiting may still help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# vCPU quotas (Service Quotas, service code "ec2") by (Spot?, family group).
QUOTA_CODES = {
    (True, "G"): ("L-3819A6DF", "All G and VT Spot Instance Requests"),
    (True, "P"): ("L-7212CCBC", "All P Spot Instance Requests"),
    (False, "G"): ("L-DB2E81BA", "Running On-Demand G and VT instances"),
    (False, "P"): ("L-417A185B", "Running On-Demand P instances"),
}

# The ECS agent and OS keep part of an instance's memory, so a job asking for all of it never fits.
USABLE_MEMORY_FRACTION = 0.95


@dataclass(frozen=True)
class InstanceSpec:
    vcpus: int
    memory_mib: int
    gpus: int = 0


def _sizes(family: str, rows: list[tuple[str, int, int, int]]) -> dict[str, InstanceSpec]:
    return {f"{family}.{size}": InstanceSpec(v, gib * 1024, g) for size, v, gib, g in rows}


_G_SIZES = [("xlarge", 4, 16, 1), ("2xlarge", 8, 32, 1), ("4xlarge", 16, 64, 1), ("8xlarge", 32, 128, 1),
            ("12xlarge", 48, 192, 4), ("16xlarge", 64, 256, 1)]
# The types our stack and the seed use by default; anything else is asked of EC2.
INSTANCE_SPECS: dict[str, InstanceSpec] = {
    **_sizes("g4dn", _G_SIZES + [("metal", 96, 384, 8)]),
    **_sizes("g5", _G_SIZES + [("24xlarge", 96, 384, 4), ("48xlarge", 192, 768, 8)]),
    **_sizes("g6", _G_SIZES + [("24xlarge", 96, 384, 4), ("48xlarge", 192, 768, 8)]),
    **_sizes("p3", [("2xlarge", 8, 61, 1), ("8xlarge", 32, 244, 4), ("16xlarge", 64, 488, 8)]),
    **_sizes("c5", [("large", 2, 4, 0), ("xlarge", 4, 8, 0), ("2xlarge", 8, 16, 0), ("4xlarge", 16, 32, 0),
                    ("9xlarge", 36, 72, 0), ("12xlarge", 48, 96, 0), ("18xlarge", 72, 144, 0),
                    ("24xlarge", 96, 192, 0)]),
    **_sizes("m5", [("large", 2, 8, 0), ("xlarge", 4, 16, 0), ("2xlarge", 8, 32, 0), ("4xlarge", 16, 64, 0),
                    ("8xlarge", 32, 128, 0), ("12xlarge", 48, 192, 0), ("16xlarge", 64, 256, 0),
                    ("24xlarge", 96, 384, 0)]),
}


@dataclass(frozen=True)
class Requirements:
    vcpus: float
    memory_mib: int
    gpus: int

    def __str__(self) -> str:
        gpus = f", {self.gpus} GPU" if self.gpus else ""
        return f"{self.vcpus:g} vCPU, {self.memory_mib} MiB{gpus}"


def job_requirements(job: dict) -> Requirements:
    container = job.get("container") or {}
    values = {item["type"]: item["value"] for item in container.get("resourceRequirements", [])}
    vcpus = float(values.get("VCPU") or container.get("vcpus") or 1)
    memory = int(float(values.get("MEMORY") or container.get("memory") or 0))
    return Requirements(vcpus=vcpus, memory_mib=memory, gpus=int(float(values.get("GPU") or 0)))


def family_group(instance_type: str) -> str | None:
    """"G" for g*/vt* types, "P" for p* types (the two GPU quota groups), else None."""
    family = instance_type.split(".", 1)[0].lower()
    if re.match(r"^(g|vt)\d", family):
        return "G"
    if re.match(r"^p\d", family):
        return "P"
    return None


class InstanceCatalog:
    """Instance type -> specs, from the table above or ``ec2.describe_instance_types``."""

    def __init__(self, ec2=None):
        self.ec2 = ec2

    def expand(self, name: str) -> dict[str, InstanceSpec]:
        """Specs of one type, or of every size of a family ("g5"); {} when unknown."""
        if "." in name:
            if name in INSTANCE_SPECS:
                return {name: INSTANCE_SPECS[name]}
            return self._ask_ec2(InstanceTypes=[name])
        sizes = {key: spec for key, spec in INSTANCE_SPECS.items() if key.split(".")[0] == name}
        return sizes or self._ask_ec2(Filters=[{"Name": "instance-type", "Values": [f"{name}.*"]}])

    def _ask_ec2(self, **kwargs) -> dict[str, InstanceSpec]:
        if self.ec2 is None:
            return {}
        try:
            found = {}
            for page in self.ec2.get_paginator("describe_instance_types").paginate(**kwargs):
                for item in page.get("InstanceTypes", []):
                    gpus = sum(g.get("Count", 0) for g in (item.get("GpuInfo") or {}).get("Gpus", []))
                    found[item["InstanceType"]] = InstanceSpec(
                        item["VCpuInfo"]["DefaultVCpus"], item["MemoryInfo"]["SizeInMiB"], gpus
                    )
            return found
        except Exception:  # noqa: BLE001 - an unknown type is reported as such, not as a crash
            return {}


def fits(spec: InstanceSpec, need: Requirements) -> bool:
    return (
        spec.vcpus >= need.vcpus
        and spec.memory_mib * USABLE_MEMORY_FRACTION >= need.memory_mib
        and spec.gpus >= need.gpus
    )


def read_quota(quotas, code: str) -> float | None:
    """The account's value of an EC2 vCPU quota, or None when it cannot be read."""
    if quotas is None:
        return None
    try:
        return float(quotas.get_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"])
    except Exception:  # noqa: BLE001 - no permission or no such quota in this partition
        try:
            return float(quotas.get_aws_default_service_quota(ServiceCode="ec2", QuotaCode=code)["Quota"]["Value"])
        except Exception:  # noqa: BLE001
            return None


def diagnose_runnable(job: dict, *, batch, quotas=None, ec2=None) -> list[str]:
    """One line per finding for a job waiting in RUNNABLE (``job`` is a describe_jobs entry)."""
    need = job_requirements(job)
    findings: list[str] = []
    queue_arn = job.get("jobQueue")
    queues = batch.describe_job_queues(jobQueues=[queue_arn]).get("jobQueues", []) if queue_arn else []
    if not queues:
        return [f"job queue {queue_arn} not found: was the stack deleted? Redeploy with `cdk deploy`"]
    queue = queues[0]
    queue_name = queue.get("jobQueueName", queue_arn)
    if queue.get("state") != "ENABLED":
        findings.append(
            f"job queue {queue_name} is {queue.get('state')}: enable it "
            f"(aws batch update-job-queue --job-queue {queue_name} --state ENABLED)"
        )
    if queue.get("status") not in ("VALID", "UPDATING", None):
        findings.append(f"job queue {queue_name} is {queue.get('status')}: {queue.get('statusReason') or 'see the Batch console'}")

    order = sorted(queue.get("computeEnvironmentOrder", []), key=lambda item: item.get("order", 0))
    ce_arns = [item["computeEnvironment"] for item in order]
    environments = (
        batch.describe_compute_environments(computeEnvironments=ce_arns).get("computeEnvironments", [])
        if ce_arns
        else []
    )
    if not environments:
        findings.append(f"job queue {queue_name} has no compute environment: redeploy with `cdk deploy`")

    catalog = InstanceCatalog(ec2)
    fits_somewhere = False
    for ce in environments:
        lines, fit = _check_environment(ce, need, catalog, quotas)
        findings.extend(lines)
        fits_somewhere |= fit
    if environments and not fits_somewhere:
        findings.append(
            f"no instance type allowed by {queue_name}'s compute environments can hold the job ({need}): "
            "ask for fewer resources (--gpus, the job definition) or add a larger instance type"
        )
    if not findings:
        spot = any((ce.get("computeResources") or {}).get("type") in ("SPOT", "FARGATE_SPOT") for ce in environments)
        findings.append(
            "no configuration problem found: "
            + (
                "Spot capacity for these instance types may be short in this region right now; "
                "the job starts when capacity appears (an on-demand environment behind it may take the job, "
                "but Batch does not promise that)"
                if spot
                else "instances may still be launching (this takes a few minutes from zero)"
            )
        )
    if job.get("statusReason"):
        findings.insert(0, f"Batch says: {job['statusReason']}")
    return findings


def _check_environment(ce: dict, need: Requirements, catalog: InstanceCatalog, quotas) -> tuple[list[str], bool]:
    """(findings, whether some allowed instance type fits the job) for one compute environment."""
    name = ce.get("computeEnvironmentName", ce.get("computeEnvironmentArn", "?"))
    lines: list[str] = []
    if ce.get("state") != "ENABLED":
        lines.append(
            f"compute environment {name} is {ce.get('state')}: enable it "
            f"(aws batch update-compute-environment --compute-environment {name} --state ENABLED)"
        )
    if ce.get("status") not in ("VALID", "UPDATING", "CREATING"):
        reason = ce.get("statusReason") or "see the Batch console"
        lines.append(f"compute environment {name} is {ce.get('status')}: {reason}")
    resources = ce.get("computeResources") or {}
    kind = resources.get("type", "EC2")
    if kind.startswith("FARGATE"):
        if need.gpus:
            lines.append(f"compute environment {name} is Fargate, which has no GPUs: use a GPU queue")
            return lines, False
        return lines, True

    specs: dict[str, InstanceSpec] = {}
    unknown = []
    for type_name in resources.get("instanceTypes", []):
        if type_name == "optimal":
            continue  # C/M/R families chosen by Batch: no GPUs, plenty of CPU sizes
        found = catalog.expand(type_name)
        specs.update(found)
        if not found:
            unknown.append(type_name)
    fitting = {t: s for t, s in specs.items() if fits(s, need)}
    fit = bool(fitting) or bool(unknown) or ("optimal" in resources.get("instanceTypes", []) and not need.gpus)
    if specs and not fitting and not unknown:
        largest = max(specs.items(), key=lambda item: (item[1].gpus, item[1].vcpus, item[1].memory_mib))
        lines.append(
            f"compute environment {name}: no instance type fits the job ({need}); the largest, "
            f"{largest[0]}, has {largest[1].vcpus} vCPU, {int(largest[1].memory_mib * USABLE_MEMORY_FRACTION)} "
            f"usable MiB, {largest[1].gpus} GPU"
        )

    max_vcpus = resources.get("maxvCpus")
    desired = resources.get("desiredvCpus", 0) or 0
    smallest = min((s.vcpus for s in fitting.values()), default=None)
    if max_vcpus is not None:
        if smallest and max_vcpus < smallest:
            lines.append(
                f"compute environment {name}: maxvCpus {max_vcpus} is below the smallest instance that fits "
                f"({smallest} vCPU): raise maxvCpus"
            )
        elif desired >= max_vcpus:
            lines.append(
                f"compute environment {name} is at its maximum ({desired} of {max_vcpus} vCPUs in use): "
                "the job waits for running jobs to finish, or raise maxvCpus"
            )

    spot = kind == "SPOT"
    groups = {family_group(t) for t in fitting} - {None}
    for group in sorted(groups):
        code, title = QUOTA_CODES[(spot, group)]
        value = read_quota(quotas, code)
        need_vcpus = min(s.vcpus for t, s in fitting.items() if family_group(t) == group)
        if value is None:
            continue
        if value < need_vcpus:
            lines.append(
                f"compute environment {name}: vCPU quota \"{title}\" ({code}) is {value:g}, below the "
                f"{need_vcpus} vCPUs of the smallest fitting instance: request an increase in Service Quotas "
                f"(aws service-quotas request-service-quota-increase --service-code ec2 --quota-code {code} "
                f"--desired-value {max(need_vcpus, 8)})"
            )
    return lines, fit
