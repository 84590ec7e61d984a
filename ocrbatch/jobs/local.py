"""Local mode's job backend: AWS Batch's behaviour, on this machine, with no AWS and no Docker.

State lives under the local home (``~/.ocrbatch`` by default) so a job submitted by one command can be
watched, cancelled or downloaded by another:

    <home>/store/                  the local "bucket" (datasets/, runs/), a LocalStore
    <home>/jobs/<job_id>/job.json  the job record, written only by the job's runner process
    <home>/jobs/<job_id>/log.txt   the trainer's output, all attempts (the "CloudWatch" stream)
    <home>/jobs/<job_id>/cancel    present once a cancel was asked for

``submit`` starts a detached runner (``python -m ocrbatch.jobs.local_runner``) that waits for the
single local slot (RUNNABLE, like a queue without capacity), then runs the same trainer the image runs
as a child process. Like Batch's retry strategy, an attempt killed by a signal the user did not send
(a kill, an OOM) is retried up to three attempts and resumes from its checkpoint; any other failure
ends the job.
"""

from __future__ import annotations

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
from ocrbatch.storage import LocalStore

MAX_ATTEMPTS = 3


def local_store(home: Path) -> LocalStore:
    return LocalStore(Path(home) / "store")


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


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
        runner = subprocess.Popen(
            [sys.executable, "-m", "ocrbatch.jobs.local_runner", str(self.home), job_id],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(job_dir / "runner.err", "ab"),
            start_new_session=True,  # survives the CLI that started it, like a real queue
            close_fds=True,
        )
        (job_dir / "runner.pid").write_text(str(runner.pid))
        return self.describe(job_id)

    def describe(self, job_id: str) -> JobInfo:
        job_dir = self.job_dir(job_id)
        record = json.loads((job_dir / "job.json").read_text())
        if record["status"] in ACTIVE_STATES:
            runner_pid = int((job_dir / "runner.pid").read_text()) if (job_dir / "runner.pid").exists() else None
            if runner_pid and not _pid_alive(runner_pid):
                # Re-read: the runner may have finished between our two reads.
                record = json.loads((job_dir / "job.json").read_text())
                if record["status"] in ACTIVE_STATES:
                    # Reported, not written: the runner is the record's only writer, and a reader
                    # that wrote could race a runner that is merely slow to be seen.
                    stopped = (job_dir / "job.json").stat().st_mtime
                    record = {**record, "status": "FAILED", "status_reason": "local runner process died",
                              "stopped_at": stopped}
        return _to_info(record)

    def list_jobs(self, *, limit: int = 50) -> list[JobInfo]:
        infos = []
        for job_dir in self.jobs_dir.iterdir():
            if (job_dir / "job.json").is_file():
                infos.append(self.describe(job_dir.name))
        infos.sort(key=lambda info: info.created_at or 0, reverse=True)
        return infos[:limit]

    def cancel(self, job_id: str, reason: str) -> JobInfo:
        job_dir = self.job_dir(job_id)
        info = self.describe(job_id)
        if info.done:
            return info
        (job_dir / "cancel").write_text(reason or "cancelled by user")
        record = json.loads((job_dir / "job.json").read_text())
        # SIGTERM, as Batch's terminate does: the trainer checkpoints and exits; the runner records it.
        if record.get("trainer_pid") and _pid_alive(record["trainer_pid"]):
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


def _to_info(record: dict) -> JobInfo:
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
    )
