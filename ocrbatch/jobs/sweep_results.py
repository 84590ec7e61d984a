"""A sweep read back: its parent job, its manifest and its children's states, ranked by held-out
accuracy (``monitor SWEEP``, ``list``, ``sweep results``, ``download SWEEP --best``).

A child's accuracy is its published ``metrics.json`` once it succeeded, else the best its trainer has
reported so far (``progress.json``); children are read concurrently, one small object each.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Callable

from ocrbatch.errors import BadInput, NotFound, OcrbatchError
from ocrbatch.jobs.backend import ACTIVE_STATES, FINAL_STATES, JobBackend, JobInfo
from ocrbatch.jobs.run_costs import LOCAL_RUN, job_cost, total
from ocrbatch.jobs.runs import read_metrics, read_progress, resolve_job, run_id_from_uri, run_store
from ocrbatch.layout import SweepLayout
from ocrbatch.storage import ObjectStore

STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


@dataclass(frozen=True)
class Sweep:
    job: JobInfo  # the parent (a one-child sweep: its only job)
    manifest: dict
    children: tuple[JobInfo, ...]

    @property
    def sweep_id(self) -> str:
        return self.manifest["sweep_id"]

    def settings_of(self, index: int | None) -> dict:
        entries = self.manifest.get("children") or []
        return entries[index].get("settings", {}) if index is not None and index < len(entries) else {}


def open_sweep(backend: JobBackend, ref: str, *, say: Callable[[str], None] | None = None) -> Sweep:
    """The sweep a job id (its parent's; or `latest`, which ``say`` is told about) names, with its
    manifest and its children's states."""
    job = resolve_job(backend, ref, say=say)
    if not job.sweep:
        raise BadInput(f"job {job.job_id} is not a sweep (start one with `ocrbatch sweep --grid KEY=V1,V2`)")
    return Sweep(job, read_manifest(backend.store, job), tuple(backend.children(job.job_id)))


def read_manifest(store: ObjectStore, job: JobInfo) -> dict:
    folder = job.sweep.rsplit("/", 1)[0] + "/"
    sweep_id = run_id_from_uri(folder)
    if not sweep_id:
        raise NotFound(f"job {job.job_id} names no sweep manifest ({job.sweep})")
    folder_job = replace(job, output=folder)  # the store holding the sweep's folder (another bucket, even)
    try:
        return json.loads(run_store(store, folder_job).get_bytes(SweepLayout(sweep_id).manifest))
    except NotFound:
        raise NotFound(f"the manifest of sweep {sweep_id} is gone from the store ({job.sweep})") from None
    except ValueError as exc:
        raise OcrbatchError(f"the manifest of sweep {sweep_id} is damaged: {exc}") from None


def child_results(store: ObjectStore | None, sweep: Sweep, *, workers: int = 16) -> list[dict]:
    """One row per child: state, why it failed, held-out accuracy (published, else the best so far)
    and its settings; ranked best first, children with no accuracy yet last (by index)."""

    def row(child: JobInfo) -> dict:
        accuracy, source = None, None
        if store is not None and child.status == "SUCCEEDED":
            accuracy = (read_metrics(store, child) or {}).get("accuracy")
            source = "metrics" if accuracy is not None else None
        if accuracy is None and store is not None and child.status not in ("SUBMITTED", "PENDING", "RUNNABLE"):
            progress = read_progress(store, child) or {}
            accuracy = progress.get("best_accuracy", progress.get("accuracy"))
            source = "progress" if accuracy is not None else None
        return {
            "index": child.array_index,
            "job_id": child.job_id,
            "status": child.status,
            "status_reason": child.status_reason if child.status == "FAILED" else None,
            "cancelled": child.cancelled,
            "run_id": run_id_from_uri(child.output),
            "accuracy": accuracy,
            "accuracy_from": source,
            "settings": sweep.settings_of(child.array_index),
        }

    with ThreadPoolExecutor(max_workers=workers) as pool:  # one small read per child: S3 latency bound
        rows = list(pool.map(row, sweep.children))
    rows.sort(key=lambda r: (r["accuracy"] is None, -(r["accuracy"] or 0), r["index"] or 0))
    for rank, r in enumerate(rows, start=1):
        r["rank"] = rank if r["accuracy"] is not None else None
    return rows


def summary(sweep: Sweep, rows: list[dict]) -> dict:
    """Counts per state, the best child so far, and the failed children with their reasons."""
    counts = {state: 0 for state in STATES}
    for child in sweep.children:
        counts[child.status] = counts.get(child.status, 0) + 1
    best = next((r for r in rows if r["accuracy"] is not None), None)
    return {
        "job_id": sweep.job.job_id,
        "sweep_id": sweep.sweep_id,
        "job_name": sweep.job.job_name,
        "status": sweep.job.status,
        "size": len(sweep.children),
        "counts": {state: n for state, n in counts.items() if n},
        "done": all(child.status in FINAL_STATES for child in sweep.children),
        "active": sum(child.status in ACTIVE_STATES for child in sweep.children),
        "best": best,
        "failed": [r for r in sorted(rows, key=lambda r: r["index"] or 0) if r["status"] == "FAILED"],
    }


def sweep_cost(backend: JobBackend, sweep: Sweep, *, now: float) -> dict | None:
    """What the children have cost so far, added up (:func:`ocrbatch.jobs.run_costs.total`); local children
    cost nothing and say so; None where the backend prices nothing."""
    runs = [cost for cost in (job_cost(backend, child, now=now) for child in sweep.children) if cost is not None]
    if not runs:
        return None
    added = total(runs)
    if all(run is LOCAL_RUN for run in runs):
        added["note"] = LOCAL_RUN.note
    return added


def best_child(sweep: Sweep, rows: list[dict]) -> JobInfo:
    """The succeeded child with the highest held-out accuracy (what ``download SWEEP --best`` takes)."""
    ranked = [r for r in rows if r["status"] == "SUCCEEDED" and r["accuracy_from"] == "metrics"]
    if not ranked:
        states = ", ".join(f"{n} {state}" for state, n in summary(sweep, rows)["counts"].items())
        raise NotFound(f"sweep {sweep.job.job_id} has no succeeded child with a published accuracy yet ({states})")
    winner = ranked[0]["job_id"]
    return next(child for child in sweep.children if child.job_id == winner)

