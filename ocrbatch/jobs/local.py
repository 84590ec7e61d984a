"""Local mode's job backend: AWS Batch's behaviour, on this machine, with no AWS and no Docker.

State lives under the local home (``~/.ocrbatch`` by default) so a job submitted by one command can be
watched, cancelled or downloaded by another:

    <home>/store/                  the local "bucket" (datasets/, runs/), a LocalStore
    <home>/jobs/<job_id>/job.json  the job record, written only by the job's runner process
    <home>/jobs/<job_id>/log.txt   the trainer's output, all attempts (the "CloudWatch" stream)
    <home>/jobs/<job_id>/cancel    present once a cancel was asked for
    <home>/jobs/<job_id>/runner.lock  locked by the job's runner for as long as it lives

``submit`` starts a detached runner (``python -m ocrbatch.jobs.local_runner``) that waits for the
local slot (RUNNABLE, like a queue without capacity), then runs the same trainer the image runs
as a child process. A sweep is a parent record (``<id>/job.json``, no runner: its state is its
children's) and one job per child (``<id>:<index>/``, as Batch names array children), whose runners
share the sweep's slots: ``sweep --slots N`` lets N children train at once. Like Batch's retry strategy, an attempt killed by a signal the user did not send
(a kill, an OOM) is retried up to three attempts and resumes from its checkpoint; any other failure
ends the job.

The runner is the job's host. When it dies (killed, however) its trainer dies with it, and the next
command that looks at the job (``monitor``, ``list``, ``cancel``...) finds its lock free and starts
a new runner, which clears what is left of the lost attempt, records it, and retries, as Batch does
after losing an instance.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from ocrbatch.errors import NotFound
from ocrbatch.jobs.backend import ACTIVE_STATES, LOCAL_INTERRUPTION, Attempt, JobInfo, JobRequest, what_interrupted
from ocrbatch.jobs.local_processes import job_processes, marked_processes, stop_job_processes
from ocrbatch.layout import child_location
from ocrbatch.storage import LocalStore

MAX_ATTEMPTS = 3
JOB_LOCK = "runner.lock"
LOST_RUNNER = LOCAL_INTERRUPTION + "the job's runner died (killed, or this machine went down)"


def local_store(home: Path) -> LocalStore:
    return LocalStore(Path(home) / "store")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def lock_job(job_dir: Path, fd: int | None = None):
    """The job's lock (its runner holds it for as long as it lives), or None if it is held already."""
    handle = os.fdopen(fd, "w") if fd is not None else open(Path(job_dir) / JOB_LOCK, "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return handle
    except BlockingIOError:
        handle.close()
        return None


def _start_runner(home: Path, job_dir: Path, job_lock) -> None:
    """Start the job's runner and hand it the job's lock, so no moment passes with the lock free."""
    with job_lock, open(job_dir / "runner.err", "ab") as errors:
        subprocess.Popen(
            [sys.executable, "-m", "ocrbatch.jobs.local_runner", str(home), job_dir.name, str(job_lock.fileno())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            start_new_session=True,  # survives the CLI that started it, like a real queue
            pass_fds=(job_lock.fileno(),),
        )


class LocalBackend:
    name = "local"

    def __init__(self, home: Path):
        self.home = Path(home)
        self.store = local_store(self.home)
        self.jobs_dir = self.home / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)

    # --- paths ----------------------------------------------------------------------------------

    def job_dir(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise NotFound(f"no local job {job_id!r}")
        path = self.jobs_dir / job_id
        if not (path / "job.json").is_file():
            raise NotFound(f"no local job {job_id!r} (see `ocrbatch list --local`)")
        return path

    # --- JobBackend -----------------------------------------------------------------------------

    def submit(self, request: JobRequest) -> JobInfo:
        job_id = f"local-{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"
        size = request.array_size if request.array_size and request.array_size > 1 else None
        record = {
            "job_id": job_id,
            "job_name": request.job_name,
            "queue": "local",
            "status": "PENDING" if size else "SUBMITTED",
            "status_reason": None,
            "created_at": time.time(),
            "started_at": None,
            "stopped_at": None,
            "attempts": [],
            "spec": request.spec.to_json(),
            "runner_pid": None,
            "trainer_pid": None,
            "slots": request.slots,
        }
        children = [{**record, "job_id": f"{job_id}:{index}", "array_index": index} for index in range(size or 0)]
        for child in children:  # the children first: the parent is listed once they all exist
            self._create(child)
        self._create({**record, "array_size": size} if size else record, start=not size)
        return self.describe(job_id)

    def _create(self, record: dict, *, start: bool = True) -> None:
        job_dir = self.jobs_dir / record["job_id"]
        job_dir.mkdir(parents=True)
        _write_json(job_dir / "job.json", record)
        if start:
            _start_runner(self.home, job_dir, lock_job(job_dir))

    def describe(self, job_id: str) -> JobInfo:
        job_dir = self.job_dir(job_id)
        record = json.loads((job_dir / "job.json").read_text())
        if record.get("array_size"):
            return self._describe_parent(job_dir, record)
        if record["status"] in ACTIVE_STATES:
            record = self._restart_if_lost(job_dir) or record
        return _to_info(record, cancel_requested=(job_dir / "cancel").exists())

    def _describe_parent(self, job_dir: Path, record: dict) -> JobInfo:
        """A sweep's state is its children's, as Batch reports an array job: PENDING until one starts,
        RUNNING while any runs, then SUCCEEDED when all did, else FAILED."""
        children = self.children(record["job_id"])
        counts: dict[str, int] = {}
        for child in children:
            counts[child.status] = counts.get(child.status, 0) + 1
        cancel_flag = job_dir / "cancel"
        if all(child.done for child in children):
            status = "SUCCEEDED" if counts.get("SUCCEEDED") == len(children) else "FAILED"
            reason = None if status == "SUCCEEDED" else f"{counts.get('FAILED', 0)} of {len(children)} children failed"
            if status == "FAILED" and cancel_flag.exists():  # as Batch keeps the reason a cancelled array job was sent
                reason = cancel_flag.read_text().strip() or reason
        else:
            status = "RUNNING" if counts.get("RUNNING") or counts.get("STARTING") else "PENDING"
            reason = None
        started = [child.started_at for child in children if child.started_at]
        stopped = [child.stopped_at for child in children if child.stopped_at]
        info = _to_info({**record, "status": status, "status_reason": reason,
                         "started_at": min(started) if started else None,
                         "stopped_at": max(stopped) if status in ("SUCCEEDED", "FAILED") and stopped else None},
                        cancel_requested=cancel_flag.exists())
        return replace(info, child_counts=counts, log_stream=None)

    def children(self, job_id: str) -> list[JobInfo]:
        record = json.loads((self.job_dir(job_id) / "job.json").read_text())
        size = record.get("array_size")
        if not size:
            return [_to_info(record)] if (record.get("spec") or {}).get("sweep") else []
        return [self.describe(f"{job_id}:{index}") for index in range(size)]

    def _restart_if_lost(self, job_dir: Path) -> dict | None:
        """If the job's runner died, start another (it retries, like Batch after a lost host); what to report."""
        job_lock = lock_job(job_dir)
        if job_lock is None:
            return None  # its runner is alive
        # Re-read under the lock: the runner may have finished between our two reads.
        record = json.loads((job_dir / "job.json").read_text())
        if record["status"] not in ACTIVE_STATES:
            job_lock.close()
            return record
        _start_runner(self.home, job_dir, job_lock)
        # Reported, not written: the runner is the record's only writer.
        return {**record, "status": "RUNNABLE", "status_reason": f"restarting after {what_interrupted(LOST_RUNNER)}"}

    def list_jobs(self, *, limit: int = 50) -> list[JobInfo]:
        infos = []
        for job_dir in self.jobs_dir.iterdir():
            # A sweep is one row, its parent, as Batch lists array jobs (its children: children()).
            if ":" not in job_dir.name and (job_dir / "job.json").is_file():
                infos.append(self.describe(job_dir.name))
        infos.sort(key=lambda info: info.created_at or 0, reverse=True)
        return infos[:limit]

    def cancel(self, job_id: str, reason: str) -> JobInfo:
        """Stop the job, and every process of it whatever its record says. Asking twice sends nothing new.
        A sweep's parent: each child, the same way."""
        job_dir = self.job_dir(job_id)
        record = json.loads((job_dir / "job.json").read_text())
        flag = job_dir / "cancel"
        if record.get("array_size"):
            before = self.describe(job_id)
            if not before.done:
                flag.write_text(reason or "cancelled by user")
            for child in self.children(job_id):
                self.cancel(child.job_id, reason)
            return before
        if record["status"] not in ACTIVE_STATES:
            stop_job_processes(job_dir, grace_s=5)  # strays of a finished job: nothing to record
            return _to_info(record)
        if flag.exists():
            return self.describe(job_id)
        # The flag first: a runner restarted by describe() below must see it.
        flag.write_text(reason or "cancelled by user")
        if self.describe(job_id).done:
            return self.describe(job_id)
        # SIGTERM to the trainer, as Batch's terminate does to the container: it checkpoints and
        # exits; its runner records the attempt and stops whatever the trainer started.
        if record.get("trainer_pid") in job_processes(job_dir):
            os.kill(record["trainer_pid"], signal.SIGTERM)
        return self.describe(job_id)

    def log_events(self, job_id: str, *, start_from: str | None = None) -> tuple[list[str], str | None]:
        log_file = self.job_dir(job_id) / "log.txt"
        if not log_file.exists():
            return [], start_from
        offset = int(start_from or 0)
        with open(log_file, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
        complete = data.rfind(b"\n") + 1  # only whole lines; the rest is read next time
        lines = data[:complete].decode("utf-8", "replace").splitlines()
        return lines, str(offset + complete)


def stray_processes(home: Path) -> dict[str, list[int]]:
    """Processes of local jobs that no live runner answers for (a finished job's, or a dead runner's):
    job id -> pids. A job's processes are its runner's only while the runner holds the job's lock."""
    strays: dict[str, list[int]] = {}
    for pid, job_dir in sorted(marked_processes(home).items()):
        try:
            status = json.loads((job_dir / "job.json").read_text())["status"]
        except (OSError, ValueError, KeyError):
            status = None
        job_lock = lock_job(job_dir) if status in ACTIVE_STATES else None
        if status not in ACTIVE_STATES or job_lock is not None:
            strays.setdefault(job_dir.name, []).append(pid)
        if job_lock is not None:
            job_lock.close()
    return strays


def _to_info(record: dict, *, cancel_requested: bool = False) -> JobInfo:
    spec = record.get("spec") or {}
    output, sweep = spec.get("output"), spec.get("sweep")
    index = record.get("array_index", 0 if sweep and not record.get("array_size") else None)
    if output and sweep and index is not None:  # a sweep's child trains beside the sweep's folder
        output = child_location(output, index)
    return JobInfo(
        job_id=record["job_id"],
        job_name=record["job_name"],
        status=record["status"],
        status_reason=record.get("status_reason"),
        created_at=record.get("created_at"),
        started_at=record.get("started_at"),
        stopped_at=record.get("stopped_at"),
        queue=record.get("queue"),
        output=output,
        dataset=spec.get("dataset"),
        attempts=tuple(Attempt(**attempt) for attempt in record.get("attempts", [])),
        log_stream=record["job_id"] if record.get("started_at") else None,
        cancel_requested=cancel_requested and record["status"] in ACTIVE_STATES,
        array_size=record.get("array_size"),
        array_index=index,
        sweep=sweep,
    )
