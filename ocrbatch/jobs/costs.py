"""What a run costs: the estimate before it starts (`submit --dry-run`), the cost of each attempt once it
ran (GPU-hours and dollars, from the attempt's times and the price that held), and a sweep's total.

Prices come from :mod:`ocrbatch.jobs.pricing`. An attempt is priced for the time Batch says its
container ran, on the instance type, zone and lifecycle the instance recorded for it (the trainer keeps
them in ``progress.json`` under ``hosts``): the instance's boot and idle minutes before Batch scales
it in are not counted, nor EBS, data transfer or the NAT gateway.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Callable, Iterable

from ocrbatch.errors import BadInput
from ocrbatch.jobs.backend import JobInfo, JobRequest
from ocrbatch.jobs.pricing import OnDemandPrices, SpotPrices, gpus_of, on_demand_prices
from ocrbatch.layout import RunLayout

SPOT, ON_DEMAND = "spot", "on-demand"
MEASURED_RUNS_LOOKED_AT = 50  # recent jobs searched for a run that measured its training time
_LIFECYCLES = {"SPOT": SPOT, "EC2": ON_DEMAND}  # Batch's compute resource types


# --- before: the estimate ---------------------------------------------------------------------------


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


# --- after: what a run cost -------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptCost:
    attempt: int
    hours: float
    gpu_hours: float
    instance_type: str | None = None
    availability_zone: str | None = None
    lifecycle: str | None = None
    usd: float | None = None
    priced_by: str | None = None  # where usd came from, or why it is missing


@dataclass(frozen=True)
class RunCost:
    gpu_hours: float
    usd: float | None  # None: some attempt could not be priced (see attempts), or a local run
    attempts: tuple[AttemptCost, ...] = field(default_factory=tuple)
    final: bool = False  # the job is done: these figures will not change
    note: str | None = None

    def to_json(self) -> dict:
        return {"gpu_hours": self.gpu_hours, "cost_usd": self.usd, "final": self.final, "note": self.note,
                "attempts": [asdict(a) for a in self.attempts]}

    @classmethod
    def from_json(cls, data: dict) -> "RunCost":
        return cls(gpu_hours=data["gpu_hours"], usd=data.get("cost_usd"), final=bool(data.get("final")),
                   note=data.get("note"), attempts=tuple(AttemptCost(**a) for a in data.get("attempts") or []))


LOCAL_RUN = RunCost(gpu_hours=0.0, usd=None, final=True, note="local run: no cloud GPU, no cost")
_UNREADABLE = "could not read"  # an attempt priced by nothing because a call failed: worth asking again


def job_cost(backend, job: JobInfo, *, now: float) -> RunCost | None:
    """What the job's run has cost so far (None: not an ocrbatch run, or no store to read it from).

    Worked out from the job's attempts (:func:`run_cost`) until the job has ended; then kept beside the
    run as ``cost.json``, so later looks cost one read and survive Batch forgetting the job."""
    from ocrbatch.jobs.runs import read_json, read_progress, run_id_from_uri, run_store, store_of

    if backend.name == "local":
        return LOCAL_RUN
    if backend.name != "aws" or job.is_sweep:  # a sweep's cost is its children's: total()
        return None
    store, run_id = store_of(backend), run_id_from_uri(job.output)
    if store is None or not run_id:
        return None
    where, layout = run_store(store, job), RunLayout(run_id)
    kept = read_json(where, layout.cost)
    if kept and kept.get("final"):
        return RunCost.from_json(kept)
    record = read_json(where, layout.run_spec) or {}
    gpus = 0 if record.get("queue") == "cpu" else int(record.get("gpus") or 1)
    region = backend.stack.region
    cost = run_cost(job, gpus=gpus, hosts=(read_progress(store, job) or {}).get("hosts"),
                    spot=SpotPrices(backend.ec2, region=region), on_demand=on_demand_prices(region), now=now)
    if cost.final and not any((a.priced_by or "").startswith(_UNREADABLE) for a in cost.attempts):
        try:
            where.put_bytes(layout.cost, json.dumps(cost.to_json(), indent=2, sort_keys=True).encode())
        except Exception:  # noqa: BLE001 - a reader who may not write still gets the figures
            pass
    return cost


def run_cost(
    job: JobInfo, *, gpus: int, hosts: dict | None, spot: SpotPrices | None, on_demand: OnDemandPrices | None,
    now: float,
) -> RunCost:
    """GPU-hours and dollars of each attempt that ran: its time (to ``now`` while it runs) on the
    instance the trainer recorded for it (``hosts``: attempt number -> instance facts)."""
    attempts = []
    for number, attempt in enumerate(job.attempts, start=1):
        if attempt.started_at is None:
            continue
        stopped = attempt.stopped_at if attempt.stopped_at is not None else now
        attempts.append(_attempt_cost(number, attempt.started_at, stopped, gpus,
                                      (hosts or {}).get(str(number)), spot, on_demand))
    if job.status == "RUNNING" and job.started_at is not None and all(a.stopped_at for a in job.attempts):
        # Batch lists an attempt once it ended; the one running now has only the job's times.
        running = max([a.stopped_at or 0 for a in job.attempts] + [job.started_at])
        number = len(job.attempts) + 1
        attempts.append(_attempt_cost(number, running, now, gpus, (hosts or {}).get(str(number)), spot, on_demand))
    prices = [a.usd for a in attempts]
    return RunCost(
        gpu_hours=round(sum(a.gpu_hours for a in attempts), 4),
        usd=round(sum(prices), 4) if prices and None not in prices else (0.0 if not attempts else None),
        attempts=tuple(attempts),
        final=job.done,
    )


def _attempt_cost(number, started, stopped, gpus, host, spot, on_demand) -> AttemptCost:
    hours = max(0.0, stopped - started) / 3600
    base = AttemptCost(attempt=number, hours=round(hours, 4), gpu_hours=round(hours * gpus, 4))
    if not host or not host.get("instance_type"):
        return _with(base, priced_by="the instance this attempt ran on is not recorded")
    instance_type, zone, lifecycle = host["instance_type"], host.get("availability_zone"), host.get("lifecycle")
    base = _with(base, instance_type=instance_type, availability_zone=zone, lifecycle=lifecycle)
    if lifecycle == SPOT:
        if spot is None or not zone:
            return _with(base, priced_by="no Spot price history to read")
        try:
            history = spot.history(instance_type, zone, started, stopped)
        except Exception as exc:  # noqa: BLE001 - no permission or no network: the cost is unknown, not an error
            return _with(base, priced_by=f"{_UNREADABLE} the Spot price history: {type(exc).__name__}: {exc}")
        usd = spot_cost(history, started, stopped)
        if usd is None:
            return _with(base, priced_by=f"EC2 has no Spot price history for {instance_type} in {zone}")
        return _with(base, usd=round(usd, 4), priced_by="Spot price history over the attempt")
    price = on_demand.get(instance_type) if on_demand else None
    if price is None:
        return _with(base, priced_by=f"no on-demand price for {instance_type}")
    return _with(base, usd=round(price * hours, 4), priced_by="on-demand price table")


def _with(cost: AttemptCost, **changes) -> AttemptCost:
    return AttemptCost(**{**asdict(cost), **changes})


def spot_cost(history: list[tuple[float, float]], start: float, end: float) -> float | None:
    """Dollars for ``[start, end]`` at the prices of ``history`` (``(time, USD/h)`` oldest first, each
    holding until the next); a window that opens before the first known price pays that first price."""
    if not history:
        return None
    usd = 0.0
    for index, (since, price) in enumerate(history):
        until = history[index + 1][0] if index + 1 < len(history) else end
        lo = start if index == 0 else max(start, since)
        hi = min(end, until)
        if hi > lo:
            usd += price * (hi - lo) / 3600
    return usd


def total(runs: Iterable[RunCost]) -> dict:
    """A sweep's (or any set of runs') GPU-hours and dollars; ``cost_usd`` counts the runs it could
    price, ``unpriced_runs`` says how many it could not."""
    runs = list(runs)
    priced = [run.usd for run in runs if run.usd is not None]
    return {
        "runs": len(runs),
        "gpu_hours": round(sum(run.gpu_hours for run in runs), 4),
        "cost_usd": round(sum(priced), 4) if priced else None,
        "unpriced_runs": len(runs) - len(priced),
        "final": all(run.final for run in runs),
    }
