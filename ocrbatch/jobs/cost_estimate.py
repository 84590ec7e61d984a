"""What a run may cost before it starts (``submit --dry-run``, ``sweep --dry-run``): the instance types
the queue may launch, priced now, for the hours the run is expected to take.

Prices come from :mod:`ocrbatch.jobs.pricing`; what a run cost once it ran is
:mod:`ocrbatch.jobs.run_costs`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache
from typing import Callable, Iterable

from ocrbatch.errors import BadInput
from ocrbatch.jobs.backend import JobInfo, JobRequest
from ocrbatch.jobs.pricing import ON_DEMAND, SPOT, OnDemandPrices, SpotPrices, gpus_of
from ocrbatch.layout import RunLayout

MEASURED_RUNS_LOOKED_AT = 50  # recent jobs searched for a run that measured its training time
_LIFECYCLES = {"SPOT": SPOT, "EC2": ON_DEMAND}  # Batch's compute resource types


def queue_instance_types(batch, job_queue: str) -> list[tuple[str, str]]:
    """``[(instance type, "spot" | "on-demand"), ...]`` the queue's compute environments may launch,
    in the queue's order."""
    queues = batch.describe_job_queues(jobQueues=[job_queue]).get("jobQueues") or []
    if not queues:
        raise BadInput(f"no job queue {job_queue!r}: check --job-queue / --stack")
    order = sorted(queues[0].get("computeEnvironmentOrder") or [], key=lambda item: item.get("order", 0))
    names = [item["computeEnvironment"] for item in order]
    found = batch.describe_compute_environments(computeEnvironments=names).get("computeEnvironments") or []
    by_name = {env.get("computeEnvironmentArn"): env for env in found} | {env.get("computeEnvironmentName"): env for env in found}
    types: list[tuple[str, str]] = []
    for name in names:
        resources = (by_name.get(name) or {}).get("computeResources") or {}
        lifecycle = _LIFECYCLES.get(resources.get("type", ""))
        if lifecycle is None:  # Fargate runs no GPU jobs and has no instance type to price
            continue
        for instance_type in resources.get("instanceTypes") or []:
            if (instance_type, lifecycle) not in types:
                types.append((instance_type, lifecycle))
    return types


@dataclass(frozen=True)
class PricedType:
    """One instance type the queue may use, with what an hour of it costs now."""

    instance_type: str
    lifecycle: str
    gpus: int | None
    spot_low: float | None  # the cheapest zone's Spot price now (spot environments only)
    spot_high: float | None
    on_demand: float | None

    @property
    def low(self) -> float | None:
        return self.spot_low if self.lifecycle == SPOT else self.on_demand

    @property
    def high(self) -> float | None:
        return self.spot_high if self.lifecycle == SPOT else self.on_demand


@dataclass(frozen=True)
class Estimate:
    region: str
    hours: float | None
    hours_basis: str
    types: tuple[PricedType, ...]
    on_demand_source: str
    notes: tuple[str, ...] = ()

    @property
    def usd_per_hour(self) -> tuple[float | None, float | None]:
        lows = [t.low for t in self.types if t.low is not None]
        highs = [t.high for t in self.types if t.high is not None]
        return (min(lows) if lows else None, max(highs) if highs else None)

    @property
    def usd(self) -> tuple[float | None, float | None]:
        low, high = self.usd_per_hour
        if self.hours is None:
            return None, None
        return (None if low is None else round(low * self.hours, 2), None if high is None else round(high * self.hours, 2))

    def to_json(self) -> dict:
        low, high = self.usd
        per_low, per_high = self.usd_per_hour
        return {
            "region": self.region,
            "hours": self.hours,
            "hours_basis": self.hours_basis,
            "usd_per_hour_low": per_low,
            "usd_per_hour_high": per_high,
            "usd_low": low,
            "usd_high": high,
            "instance_types": [asdict(t) for t in self.types],
            "on_demand_source": self.on_demand_source,
            "notes": list(self.notes),
        }


def estimate(
    allowed: Iterable[tuple[str, str]],
    *,
    gpus: int,
    hours: float | None,
    hours_basis: str,
    spot: SpotPrices,
    on_demand: OnDemandPrices,
) -> Estimate:
    """Price the types that can hold a job of ``gpus`` GPUs for ``hours``: the range runs from the
    cheapest hour any of them costs now to the dearest (Batch picks the type and, for Spot, the zone)."""
    allowed = list(allowed)
    notes = []
    fitting = []
    for instance_type, lifecycle in allowed:
        if "." not in instance_type:  # "optimal" or a family: Batch chooses the size
            notes.append(f"{instance_type!r} lets Batch choose the size; it is not priced")
            continue
        known = gpus_of(instance_type)
        if known is not None and known < gpus:
            continue
        fitting.append((instance_type, lifecycle))
    spot_now = spot.current(t for t, lifecycle in fitting if lifecycle == SPOT)
    types = []
    for instance_type, lifecycle in fitting:
        zones = spot_now.get(instance_type, {}) if lifecycle == SPOT else {}
        if lifecycle == SPOT and not zones:
            notes.append(f"EC2 has no Spot price for {instance_type} in {spot.region}")
        types.append(PricedType(
            instance_type=instance_type,
            lifecycle=lifecycle,
            gpus=gpus_of(instance_type),
            spot_low=min(zones.values()) if zones else None,
            spot_high=max(zones.values()) if zones else None,
            on_demand=on_demand.get(instance_type),
        ))
    if allowed and not types:
        notes.append(f"none of the queue's instance types holds {gpus} GPUs")
    if any(t.lifecycle == SPOT for t in types):
        notes.append("a Spot reclaim adds the training since the last checkpoint")
    return Estimate(spot.region, hours, hours_basis, tuple(types), on_demand.source, tuple(notes))


def expected_hours(
    *, max_hours: float | None, epochs: int | None, measured: dict | None, timeout_hours: float | None
) -> tuple[float | None, str]:
    """The hours to price and where they come from: ``--max-hours``; else the epochs asked for at the
    seconds per epoch a finished run of the same kind measured (``measured``: its ``run_id``,
    ``epochs``, ``train_seconds``); else the job definition's timeout, an upper bound."""
    if max_hours is not None:
        return max_hours, "--max-hours"
    if measured and epochs and measured.get("epochs") and measured.get("train_seconds"):
        per_epoch = measured["train_seconds"] / measured["epochs"]
        return (round(epochs * per_epoch / 3600, 4),
                f"{epochs} epochs x {per_epoch:.0f} s per epoch measured by run {measured['run_id']}")
    if timeout_hours is not None:
        return timeout_hours, "the job definition's timeout (an upper bound; --max-hours to price less)"
    return None, "unknown: pass --max-hours"


def definition_timeout_hours(batch, job_definition: str) -> float | None:
    """The time limit of an attempt under ``job_definition`` (a name: its newest active revision)."""
    if job_definition.startswith("arn:") or ":" in job_definition:
        found = batch.describe_job_definitions(jobDefinitions=[job_definition]).get("jobDefinitions") or []
    else:
        found = batch.describe_job_definitions(jobDefinitionName=job_definition, status="ACTIVE").get("jobDefinitions") or []
    if not found:
        return None
    newest = max(found, key=lambda definition: definition.get("revision", 0))
    seconds = (newest.get("timeout") or {}).get("attemptDurationSeconds")
    return round(seconds / 3600, 4) if seconds else None


def measured_run(jobs: Iterable[JobInfo], request: JobRequest, read_run: Callable[[JobInfo], tuple[dict, dict] | None]) -> dict | None:
    """The newest succeeded run that trained like ``request`` (same dataset version, engine, model,
    batch size, queue and GPUs) and measured its training time: ``{"run_id", "epochs", "train_seconds"}``.
    ``read_run(job)`` gives a job's ``(run.json, metrics.json)``, or None."""
    wanted = request.spec
    for job in jobs:
        if job.status != "SUCCEEDED":
            continue
        found = read_run(job)
        if not found:
            continue
        record, metrics = found
        spec = record.get("spec") or {}
        alike = (
            record.get("queue") == request.queue and record.get("gpus") == request.gpus
            and spec.get("dataset") == wanted.dataset and spec.get("engine") == wanted.engine
            and spec.get("model") == wanted.model and spec.get("batch_size") == wanted.batch_size
        )
        if alike and metrics.get("epochs") and metrics.get("train_seconds"):
            return {"run_id": record.get("run_id"), "epochs": metrics["epochs"], "train_seconds": metrics["train_seconds"]}
    return None


def estimate_submission(
    backend, request: JobRequest, runs: Iterable[JobRequest] = (), *, spot: SpotPrices, on_demand: OnDemandPrices
) -> Estimate:
    """What ``request`` may cost on the AWS ``backend``: the types of the queue it goes to, for the hours
    :func:`expected_hours` settles on for each of ``runs`` (a sweep's children; default: ``request``
    itself), added up."""
    from ocrbatch.jobs.runs import read_json, read_metrics, run_id_from_uri, run_store, store_of

    call = backend.submit_job_kwargs(request)
    store = store_of(backend)
    runs = list(runs) or [request]

    def read_run(job: JobInfo) -> tuple[dict, dict] | None:
        run_id = run_id_from_uri(job.output)
        if not run_id or store is None:
            return None
        record = read_json(run_store(store, job), RunLayout(run_id).run_spec)
        metrics = read_metrics(store, job)
        return (record, metrics) if record and metrics else None

    @cache
    def recent() -> list[JobInfo]:
        return backend.list_jobs(limit=MEASURED_RUNS_LOOKED_AT)

    @cache
    def timeout_hours() -> float | None:
        return definition_timeout_hours(backend.batch, call["jobDefinition"])

    total, bases = 0.0, []
    for run in runs:
        measured = measured_run(recent(), run, read_run) if run.max_hours is None and run.spec.epochs else None
        hours, basis = expected_hours(max_hours=run.max_hours, epochs=run.spec.epochs, measured=measured,
                                      timeout_hours=timeout_hours() if run.max_hours is None and not measured else None)
        if hours is None:
            total, bases = None, [basis]
            break
        total += hours
        bases.append(basis)
    kinds = sorted(set(bases))
    basis = "; ".join(kinds) if len(runs) == 1 else (
        f"{len(runs)} runs added up (they run side by side): " + "; ".join(kinds))
    allowed = queue_instance_types(backend.batch, call["jobQueue"])
    return estimate(allowed, gpus=request.gpus if request.queue == "gpu" else 0,
                    hours=None if total is None else round(total, 4), hours_basis=basis, spot=spot, on_demand=on_demand)
