"""What a run cost once it ran: GPU-hours and dollars of each attempt, from the attempt's times and the
price that held, kept beside a finished run as ``cost.json``; and a sweep's total.

An attempt is priced for the time Batch says its container ran, on the instance type, zone and lifecycle
the instance recorded for it (the trainer keeps them in ``progress.json`` under ``hosts``): the
instance's boot and idle minutes before Batch scales it in are not counted, nor EBS, data transfer or
the NAT gateway. Prices come from :mod:`ocrbatch.jobs.pricing`; the estimate before a run is
:mod:`ocrbatch.jobs.cost_estimate`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Iterable

from ocrbatch.jobs.backend import JobInfo
from ocrbatch.jobs.pricing import SPOT, OnDemandPrices, SpotPrices, on_demand_prices
from ocrbatch.layout import RunLayout


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
