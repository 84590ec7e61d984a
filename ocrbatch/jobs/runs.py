"""Training runs as the store sees them: run ids, ``run.json``, progress and metrics, and ``latest``.

A job (Batch's or a local process) carries its run's output URI; everything a run writes lives under
``RunLayout(run_id).prefix`` in the backend's store. This module maps between the two and reads
what the trainer wrote, for both backends.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ocrbatch.artifact import download_artifact, read_manifest, staging_folder
from ocrbatch.errors import BadInput, NotFound, OcrbatchError, RunFailed
from ocrbatch.jobs.backend import JobBackend, JobInfo
from ocrbatch.layout import MANIFEST_NAME, REPORT_NAME, RUNS_PREFIX, RunLayout
from ocrbatch.storage import LocalStore, ObjectStore, S3Store, split_uri

LATEST = "latest"
_RUN_IN_URI = re.compile(r"(?:^|/)" + re.escape(RUNS_PREFIX) + r"([^/]+)/?$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def new_run_id(job_name: str, *, now: float | None = None, token: str | None = None) -> str:
    """``20261129-184000-<job name>-<6 hex>``: sorts by submission time, unique without a lookup."""
    stamp = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
    name = _UNSAFE.sub("-", job_name).strip("-")[:60] or "run"
    return f"{stamp:%Y%m%d-%H%M%S}-{name}-{token or secrets.token_hex(3)}"


def run_id_from_uri(uri: str | None) -> str | None:
    """The run id in ``<store>/runs/<run_id>/`` or None when the URI names no run."""
    if not uri:
        return None
    match = _RUN_IN_URI.search(uri)
    return match.group(1) if match else None


def run_layout(job: JobInfo) -> RunLayout:
    run_id = run_id_from_uri(job.output)
    if not run_id:
        raise NotFound(f"job {job.job_id} was not submitted by ocrbatch (it has no run output URI)")
    return RunLayout(run_id)


def store_of(backend: JobBackend) -> ObjectStore | None:
    """The backend's store, or None when it cannot be known (AWS with neither stack nor --s3-bucket):
    status and logs still work then, only progress and metrics are missing."""
    try:
        return backend.store
    except NotFound:
        return None


def run_store(store: ObjectStore, job: JobInfo) -> ObjectStore:
    """The store holding the job's run: the backend's own, or another bucket the job was sent to
    (``submit --s3-bucket``), reached with the same client."""
    root = (job.output or "")[: (job.output or "").rfind(RUNS_PREFIX)]
    if not root or root.rstrip("/") == store.uri().rstrip("/"):
        return store
    scheme, where, _key = split_uri(root)
    if scheme == "s3" and isinstance(store, S3Store):
        return S3Store(store.client, where)
    if scheme == "file":
        return LocalStore(Path(where))
    return store


def write_run_record(store: ObjectStore, run_id: str, record: dict) -> None:
    store.put_bytes(RunLayout(run_id).run_spec, json.dumps(record, indent=2, sort_keys=True).encode())


def read_json(store: ObjectStore, key: str) -> dict | None:
    """A small JSON object from the store, or None when absent or unreadable (being rewritten)."""
    try:
        value = json.loads(store.get_bytes(key))
    except (NotFound, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_progress(store: ObjectStore | None, job: JobInfo) -> dict | None:
    run_id = run_id_from_uri(job.output)
    if not run_id or store is None:
        return None
    return read_json(run_store(store, job), RunLayout(run_id).progress)


def read_metrics(store: ObjectStore | None, job: JobInfo) -> dict | None:
    run_id = run_id_from_uri(job.output)
    if not run_id or store is None:
        return None
    return read_json(run_store(store, job), RunLayout(run_id).model_metrics)


def run_accuracy(store: ObjectStore | None, job: JobInfo) -> float | None:
    """Held-out accuracy: the published metrics when the run finished, else the live progress."""
    metrics = read_metrics(store, job) if job.status == "SUCCEEDED" else None
    if metrics and metrics.get("accuracy") is not None:
        return metrics["accuracy"]
    progress = read_progress(store, job) or {}
    for key in ("best_accuracy", "accuracy"):
        if progress.get(key) is not None:
            return progress[key]
    return None


def resolve_job(
    backend: JobBackend, ref: str | None, *, succeeded: bool = False, flags: str = "",
    say: Callable[[str], None] | None = None,
) -> JobInfo:
    """A job id, or ``latest``: the newest job (the newest SUCCEEDED one with ``succeeded``: commands
    that need a model). ``say`` is told which job ``latest`` took and why; ``flags``: the user's own
    backend flags, which the hint repeats."""
    if not ref or not ref.strip():
        raise BadInput("name a job: JOB_ID, or `latest`")
    ref = ref.strip()
    if ref.startswith(LATEST + ":"):  # a child of the newest job, as `SWEEP:INDEX` names one
        parent = resolve_job(backend, LATEST, flags=flags)
        if not parent.is_sweep:
            raise BadInput(f"{ref} names a sweep's child, but the newest job, {parent.job_id}, is not a sweep")
        child = backend.describe(f"{parent.job_id}:{ref.split(':', 1)[1]}")
        if say:
            say(f"{ref}: job {child.job_id}, a child of sweep {parent.job_id} ({parent.job_name}), the newest job")
        return child
    if ref != LATEST:
        return backend.describe(ref)
    jobs = sorted(backend.list_jobs(limit=100), key=lambda job: job.created_at or 0, reverse=True)
    for job in jobs:
        if not succeeded or job.status == "SUCCEEDED":
            if say:
                say(latest_taken(job, jobs[0], "succeeded job" if succeeded else "job"))
            return job
    if succeeded and jobs:
        newest = jobs[0]
        raise NotFound(f"no succeeded job on the {backend.name} backend to take a model from: the newest job, "
                       f"{newest.job_id}, is {newest.status}; see why with `ocrbatch monitor {newest.job_id}{flags}`")
    what = "succeeded job" if succeeded else "job"
    raise NotFound(f"no {what} found on the {backend.name} backend; submit one with `ocrbatch submit{flags}`")


def latest_taken(job: JobInfo, newest: JobInfo, what: str) -> str:
    """The line that says which job `latest` took (``what``: "job", "succeeded job", ...) and, when it
    is not the newest job, why."""
    line = f"latest: job {job.job_id} ({job.job_name}), the newest {what}, {job.status}"
    if newest.job_id != job.job_id:
        line += f"; the newest job, {newest.job_id}, is {newest.status}"
    return line


def download_model(
    backend: JobBackend, job: JobInfo, dest, *, force: bool = False, progress: Callable[[int, int], None] | None = None,
    flags: str = "",
) -> dict:
    """Fetch and verify the model a SUCCEEDED job published; returns a summary for the CLI.

    ``progress(done_bytes, total_bytes)`` is called as the bytes arrive; ``flags``: the user's own
    backend flags, which the hints repeat.
    """
    if job.is_sweep:  # each child published its own model
        raise BadInput(f"job {job.job_id} is a sweep of {job.array_size}: take its best child's model with "
                       f"`ocrbatch download {job.job_id} --best{flags}`, or name a child ({job.job_id}:INDEX)")
    if job.status == "FAILED":
        raise RunFailed(f"job {job.job_id} FAILED ({job.status_reason or 'no reason given'}): it published no model")
    if job.status != "SUCCEEDED":
        raise NotFound(
            f"job {job.job_id} is {job.status}: its model is published when it succeeds "
            f"(follow it with `ocrbatch monitor {job.job_id}{flags}`)"
        )
    layout = run_layout(job)
    store = run_store(backend.store, job)
    try:
        manifest = read_manifest(store, layout.model)
    except NotFound:
        raise NotFound(f"job {job.job_id} SUCCEEDED but there is no model at {store.uri(layout.model)}: "
                       "was it deleted from the store since?") from None
    total = sum(meta["size"] for meta in manifest["files"].values())
    check_destination(Path(dest), total)
    done = 0
    counting = threading.Lock()  # s3transfer reports the parts of a file from several threads

    def advance(size: int) -> None:
        nonlocal done
        with counting:
            done += size
            if progress:
                progress(done, total)

    manifest = download_artifact(store, layout.model, Path(dest), force=force, progress=advance)
    metrics = read_json(store, layout.model_metrics) or {}
    return {
        "job_id": job.job_id,
        "run_id": layout.run_id,
        "model_uri": store.uri(layout.model),
        "output_dir": str(Path(dest).resolve()),
        "files": len(manifest["files"]),
        "bytes": total,
        "verified": True,
        "accuracy": metrics.get("accuracy"),
        "dataset": job.dataset,
        # The run's page came with the model (models published before pages existed have none).
        "report": str(Path(dest).resolve() / REPORT_NAME) if REPORT_NAME in manifest["files"] else None,
    }


def check_destination(dest: Path, needed: int) -> None:
    """Refuse, before a byte is fetched, a destination that cannot take the model, naming the real cause.

    The model is staged where :func:`~ocrbatch.artifact.staging_folder` says and moved in, so that
    folder and ``dest`` must both be writable."""
    for folder in dict.fromkeys((dest, staging_folder(dest))):
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        what = str(dest) if existing == dest else f"{dest}: {existing}"  # the path once when it is dest itself
        if not existing.is_dir():
            raise BadInput(f"{what} is not a folder; choose another --output-dir")
        if os.statvfs(existing).f_flag & os.ST_RDONLY:
            raise BadInput(f"{what} is on a read-only file system; choose another --output-dir")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise BadInput(f"{dest}: no permission to write in {existing}; choose another --output-dir")
    free = shutil.disk_usage(existing).free
    if free < needed:
        raise OcrbatchError(  # exit 3: the machine, not the command, has to change
            f"{dest}: the model needs {needed / 1e6:.1f} MB and {existing} has {free / 1e6:.1f} MB free; "
            "free some space or choose another --output-dir"
        )


def task_of(backend: JobBackend, job: JobInfo) -> str | None:
    """The task (``rec``/``det``) the job's run trained, from its run record; None when unknown."""
    store, run_id = store_of(backend), run_id_from_uri(job.output)
    if store is None or not run_id:
        return None
    record = read_json(run_store(store, job), RunLayout(run_id).run_spec) or {}
    return (record.get("spec") or {}).get("task")


def latest_of_task(backend: JobBackend, task: str, *, say: Callable[[str], None] | None = None) -> JobInfo:
    """The newest succeeded job that trained ``task``: a detector and a recognizer trained one after
    the other are both `latest`, each for its own option. ``say`` is told which job that was."""
    jobs = sorted(backend.list_jobs(limit=100), key=lambda job: job.created_at or 0, reverse=True)
    for job in jobs:
        if job.status == "SUCCEEDED" and not job.is_sweep and (task_of(backend, job) or "rec") == task:
            if say:
                say(latest_taken(job, jobs[0], f"succeeded {task} job"))
            return job
    newest = resolve_job(backend, LATEST, succeeded=True)  # the usual errors when nothing succeeded
    raise NotFound(f"no succeeded {task} job on the {backend.name} backend to take `latest` from "
                   f"(the newest succeeded job, {newest.job_id}, trained {task_of(backend, newest) or 'rec'}); name a job id")


def model_of_job(
    backend: JobBackend, job_ref: str, models_dir: Path, *, log: Callable[[str], None], task: str | None = None,
) -> Path:
    """The model folder of a job (id or `latest`), downloaded once into ``models_dir/<run id>``.
    With ``task``, `latest` is the newest succeeded job that trained that task."""
    if task and job_ref.strip() == LATEST:
        job = latest_of_task(backend, task, say=log)
    else:
        job = resolve_job(backend, job_ref, succeeded=True, say=log)
    dest = Path(models_dir) / run_layout(job).run_id
    if not (dest / MANIFEST_NAME).is_file():
        log(f"downloading the model of job {job.job_id} to {dest}")
    download_model(backend, job, dest)
    return dest
