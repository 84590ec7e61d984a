"""A job's page, built on demand from what its run left in the store: the published model's files
(or, while it trains, its history so far), the job backend's own record of its attempts, and what
the run cost (``ocrbatch.jobs.run_costs``, the figures ``monitor`` shows)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ocrbatch import report
from ocrbatch.errors import NotFound
from ocrbatch.jobs.backend import JobBackend, JobInfo
from ocrbatch.jobs.runs import run_layout, run_store

log = logging.getLogger("ocrbatch")


def build_job_report(backend: JobBackend, job: JobInfo, output: Path) -> dict:
    """Write ``job``'s page to ``output``; returns what the CLI prints."""
    layout = run_layout(job)
    facts = job.to_json()
    facts["cost"] = _cost(backend, job)
    record = report.read_run(run_store(backend.store, job), layout.prefix, title=layout.run_id, job=facts)
    if not record.published and not record.history:
        raise NotFound(f"job {job.job_id} is {job.status} and has recorded no training yet: nothing to draw "
                       f"(follow it with `ocrbatch monitor {job.job_id}`)")
    return {"job_id": job.job_id, "run_id": layout.run_id, "status": job.status, "published": record.published,
            **_written(record, output)}


def build_folder_report(folder: Path, output: Path) -> dict:
    """Write the page of the model in ``folder`` (a download) to ``output``."""
    folder = Path(folder)
    record = report.read_folder(folder)
    if not record.published and not record.history:
        raise NotFound(f"{folder} holds no model (no metrics.json) and no training history")
    return {"model_dir": str(folder), "published": record.published, **_written(record, output)}


def _cost(backend: JobBackend, job: JobInfo) -> dict | None:
    """What the run cost, as ``monitor`` says it (:func:`ocrbatch.jobs.run_costs.job_cost`); the page goes
    without it when the prices cannot be read."""
    from ocrbatch.jobs.run_costs import job_cost

    try:
        cost = job_cost(backend, job, now=time.time())
    except Exception as exc:  # noqa: BLE001 - a figure on the page, never a reason to have no page
        log.info("no cost for the page: %s", exc)
        return None
    return cost.to_json() if cost else None


def _written(record: report.RunRecord, output: Path) -> dict:
    path = report.write_page(record, output)
    return {"report": str(path.resolve()), "bytes": path.stat().st_size}
