"""Local mode's job backend: AWS Batch's behaviour, on this machine, with no AWS and no Docker.

State lives under the local home (``~/.ocrbatch`` by default) so a job submitted by one command can be
watched, cancelled or downloaded by another:

    <home>/store/                  the local "bucket" (datasets/, runs/), a LocalStore
    <home>/jobs/<job_id>/job.json  the job record, written only by the job's runner process
    <home>/jobs/<job_id>/log.txt   the trainer's output, all attempts (the "CloudWatch" stream)
    <home>/jobs/<job_id>/cancel    present once a cancel was asked for
    <home>/jobs/<job_id>/runner.lock  locked by the job's runner for as long as it lives

``submit`` starts a detached runner (``python -m ocrbatch.jobs.local_runner``) that waits for the
single local slot (RUNNABLE, like a queue without capacity), then runs the same trainer the image runs
as a child process. Like Batch's retry strategy, an attempt killed by a signal the user did not send
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
from pathlib import Path

from ocrbatch.errors import NotFound
from ocrbatch.jobs.backend import ACTIVE_STATES, Attempt, JobInfo, JobRequest
from ocrbatch.jobs.local_processes import job_processes, marked_processes, stop_job_processes
from ocrbatch.storage import LocalStore

MAX_ATTEMPTS = 3
JOB_LOCK = "runner.lock"
LOST_RUNNER = "Host terminated: local runner died"


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
        job_dir = self.jobs_dir / job_id
        job_dir.mkdir(parents=True)
        record = {
            "job_id": job_id,
            "job_name": request.job_name,
            "queue": "local",
            "status": "SUBMITTED",
            "status_reason": None,
            "created_at": time.time(),
            "started_at": None,
            "stopped_at": None,
            "attempts": [],
            "spec": request.spec.to_json(),
            "runner_pid": None,
            "trainer_pid": None,
        }
        _write_json(job_dir / "job.json", record)
        _start_runner(self.home, job_dir, lock_job(job_dir))
        return self.describe(job_id)

    def describe(self, job_id: str) -> JobInfo:
        job_dir = self.job_dir(job_id)
        record = json.loads((job_dir / "job.json").read_text())
        if record["status"] in ACTIVE_STATES:
            record = self._restart_if_lost(job_dir) or record
        return _to_info(record, cancel_requested=(job_dir / "cancel").exists())

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
        return {**record, "status": "RUNNABLE", "status_reason": f"restarting after: {LOST_RUNNER}"}

    def list_jobs(self, *, limit: int = 50) -> list[JobInfo]:
        infos = []
        for job_dir in self.jobs_dir.iterdir():
            if (job_dir / "job.json").is_file():
                infos.append(self.describe(job_dir.name))
        infos.sort(key=lambda info: info.created_at or 0, reverse=True)
        return infos[:limit]

    def cancel(self, job_id: str, reason: str) -> JobInfo:
        """Stop the job, and every process of it whatever its record says. Asking twice sends nothing new."""
        job_dir = self.job_dir(job_id)
        record = json.loads((job_dir / "job.json").read_text())
        flag = job_dir / "cancel"
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
    return JobInfo(
        job_id=record["job_id"],
        job_name=record["job_name"],
        status=record["status"],
        status_reason=record.get("status_reason"),
        created_at=record.get("created_at"),
        started_at=record.get("started_at"),
        stopped_at=record.get("stopped_at"),
        queue=record.get("queue"),
        output=spec.get("output"),
        dataset=spec.get("dataset"),
        attempts=tuple(Attempt(**attempt) for attempt in record.get("attempts", [])),
        log_stream=record["job_id"] if record.get("started_at") else None,
        cancel_requested=cancel_requested and record["status"] in ACTIVE_STATES,
    )
