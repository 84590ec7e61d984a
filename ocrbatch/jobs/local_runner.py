"""The detached process behind one local job: waits for the local slot, runs attempts, records state.

Started by :meth:`ocrbatch.jobs.local.LocalBackend.submit`; it is the only writer of the job record.
The trainer gets the job's spec as its OCRBATCH_* variables, as a Batch container does, and none
of the user's own: a stray ``OCRBATCH_EPOCHS`` in a shell must not change a local job alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping

from ocrbatch.jobs.local import MAX_ATTEMPTS, _write_json
from ocrbatch.trainer.spec import ENV_PREFIX, TrainingSpec

POLL_S = 0.5


class JobRecord:
    def __init__(self, job_dir: Path):
        self.path = job_dir / "job.json"
        self.data = json.loads(self.path.read_text())

    def update(self, **values) -> None:
        self.data.update(values)
        _write_json(self.path, self.data)


def _cancel_reason(job_dir: Path) -> str | None:
    flag = job_dir / "cancel"
    if not flag.exists():
        return None
    return flag.read_text().strip() or "cancelled by user"


def _wait_for_slot(home: Path, job_dir: Path, record: JobRecord):
    """Hold the single local slot (one training at a time on this machine), or None if cancelled."""
    lock = open(home / "runner.lock", "w")
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except BlockingIOError:
            record.update(status="RUNNABLE", status_reason="waiting for the local slot (another job is training)")
        if _cancel_reason(job_dir):
            lock.close()
            return None
        time.sleep(POLL_S)


def trainer_environment(base: Mapping[str, str], spec: TrainingSpec, **settings: str) -> dict[str, str]:
    """The process environment (PATH, HOME, ...) without any OCRBATCH_* variable, then the spec's."""
    kept = {name: value for name, value in base.items() if not name.startswith(ENV_PREFIX)}
    return {**kept, **spec.to_env(), **settings, "PYTHONUNBUFFERED": "1"}


def run_job(home: Path, job_id: str, *, base_env: Mapping[str, str], progress_interval: str = "1") -> int:
    job_dir = home / "jobs" / job_id
    record = JobRecord(job_dir)
    record.update(status="RUNNABLE", runner_pid=os.getpid())
    slot = _wait_for_slot(home, job_dir, record)
    if slot is None:
        record.update(status="FAILED", status_reason=_cancel_reason(job_dir), stopped_at=time.time())
        return 1

    spec = TrainingSpec(**record.data["spec"])
    record.update(status="STARTING", status_reason=None)
    workdir = job_dir / "work"
    attempts = list(record.data.get("attempts", []))
    final_status, final_reason = "FAILED", None
    with open(job_dir / "log.txt", "ab", buffering=0) as log:
        for number in range(len(attempts) + 1, MAX_ATTEMPTS + 1):
            if _cancel_reason(job_dir):
                final_reason = _cancel_reason(job_dir)
                break
            env = trainer_environment(
                base_env,
                spec,
                AWS_BATCH_JOB_ATTEMPT=str(number),
                OCRBATCH_PROGRESS_INTERVAL=progress_interval,
                OCRBATCH_WORKDIR=str(workdir),
            )
            log.write(f"--- attempt {number} ---\n".encode())
            started = time.time()
            trainer = subprocess.Popen(
                [sys.executable, "-m", "ocrbatch.trainer"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            record.update(
                status="RUNNING",
                trainer_pid=trainer.pid,
                started_at=record.data.get("started_at") or started,
            )
            code = trainer.wait()
            cancelled = _cancel_reason(job_dir)
            if code == 0:
                reason = None
            elif code < 0:
                reason = f"Host terminated: trainer killed by {signal.Signals(-code).name}"
            elif code == 143:
                reason = "Host terminated: trainer stopped by SIGTERM"
            else:
                reason = f"Essential container in task exited (trainer exit code {code})"
            attempts.append(
                {"started_at": started, "stopped_at": time.time(), "exit_code": code, "reason": reason,
                 "log_stream": job_id}
            )
            record.update(attempts=attempts, trainer_pid=None)
            if code == 0:
                final_status, final_reason = "SUCCEEDED", None
                break
            if cancelled:
                final_reason = cancelled
                break
            final_reason = reason
            if not reason.startswith("Host terminated"):
                break  # like the job definition's retry strategy: EXIT on anything but a lost host
            record.update(status="RUNNABLE", status_reason=f"retrying after: {reason}")
    record.update(status=final_status, status_reason=final_reason, stopped_at=time.time())
    if final_status == "SUCCEEDED":
        shutil.rmtree(workdir, ignore_errors=True)
    slot.close()
    return 0 if final_status == "SUCCEEDED" else 1


if __name__ == "__main__":
    # Progress every second by default: local jobs are watched from the same machine.
    interval = os.environ.get("OCRBATCH_PROGRESS_INTERVAL") or "1"
    sys.exit(run_job(Path(sys.argv[1]), sys.argv[2], base_env=os.environ, progress_interval=interval))
