"""The detached process behind one local job: waits for the local slot, runs attempts, records state.

Started by :meth:`ocrbatch.jobs.local.LocalBackend.submit`; it is the only writer of the job record.
The trainer gets the job's spec as its OCRBATCH_* variables, as a Batch container does, and none
of the user's own spec variables: a stray ``OCRBATCH_EPOCHS`` in a shell must not change a local job
alone (machine settings such as ``OCRBATCH_CACHE_DIR`` still pass).
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

from ocrbatch.jobs.backend import LOCAL_INTERRUPTION, what_interrupted
from ocrbatch.jobs.local import LOST_RUNNER, MAX_ATTEMPTS, _write_json, lock_job
from ocrbatch.jobs.local_processes import die_with_parent, job_mark, stop_job_processes
from ocrbatch.stop_window import EXIT_STOPPED
from ocrbatch.trainer.spec import ARRAY_INDEX_VARIABLE, TrainingSpec

POLL_S = 0.5
WAITING = "waiting for the local slot (another job is training)"


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
    text = flag.read_text().strip() or "cancelled by user"
    return text if "cancel" in text.lower() else f"cancelled by user: {text}"


def slot_lock_name(slot: int) -> str:
    """Slot 0 is every job's; a sweep run with ``--slots N`` may also take slots 1 .. N-1."""
    return "runner.lock" if slot == 0 else f"runner-{slot}.lock"


def _wait_for_slot(home: Path, job_dir: Path, record: JobRecord, host: "Host"):
    """Hold a local slot (one training at a time on this machine, or the sweep's ``slots``), or None if
    cancelled or stopped.

    The trainer inherits the slot's lock, so the slot stays taken while any process of the job lives."""
    slots = max(1, int(record.data.get("slots") or 1))
    while True:
        for slot in range(slots):
            lock = open(home / slot_lock_name(slot), "w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return lock
            except BlockingIOError:
                lock.close()
        if record.data.get("status_reason") != WAITING:
            record.update(status="RUNNABLE", status_reason=WAITING)
        if _cancel_reason(job_dir) or host.stopping:
            return None
        time.sleep(POLL_S)


class Host:
    """What this runner is to the job: its host. SIGTERM (or SIGINT) to the runner is the host going away:
    the trainer is told (it checkpoints), the attempt ends as a lost host's, and the job waits for a new
    runner, as Batch retries on another instance."""

    def __init__(self) -> None:
        self.stopping: str | None = None
        self.trainer: subprocess.Popen | None = None
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, signum, _frame) -> None:
        if self.stopping is None:
            self.stopping = signal.Signals(signum).name
            if self.trainer is not None and self.trainer.poll() is None:
                self.trainer.send_signal(signal.SIGTERM)  # to the trainer alone, as `docker stop` does


def trainer_environment(base: Mapping[str, str], spec: TrainingSpec, **settings: str) -> dict[str, str]:
    """The process environment (PATH, HOME, a cache folder, ...) without any variable a spec may set,
    then this spec's: what to train comes from the job alone."""
    spec_variables = (*TrainingSpec.variables(), ARRAY_INDEX_VARIABLE)  # a child's index comes from its record
    kept = {name: value for name, value in base.items() if name not in spec_variables}
    return {**kept, **spec.to_env(), **settings, "PYTHONUNBUFFERED": "1"}


def _array_index(record: dict) -> dict[str, str]:
    """A sweep's child is told its index as Batch tells it (the trainer finds its settings by it)."""
    index = record.get("array_index")
    return {} if index is None else {ARRAY_INDEX_VARIABLE: str(index)}


def attempt_reason(code: int, *, cancelled: str | None, host_stopping: str | None) -> str | None:
    """Why an attempt ended, saying what happened on this machine. An end from outside the job starts
    with LOCAL_INTERRUPTION (it is retried); a signal ocrbatch did not send may be a reclaim drill."""
    if code == 0:
        return None
    if cancelled:
        return cancelled
    if host_stopping:
        return LOCAL_INTERRUPTION + f"the job's runner was stopped by {host_stopping}, and stopped its trainer"
    if code < 0:
        name = signal.Signals(-code).name
        return LOCAL_INTERRUPTION + (f"the trainer was killed by {name}, not by ocrbatch (a kill, the "
                                     "out-of-memory killer, or a reclaim drill without notice)")
    if code == EXIT_STOPPED:
        return LOCAL_INTERRUPTION + ("the trainer was sent SIGTERM, not by ocrbatch (a simulated Spot notice, "
                                     "as the reclaim drills send, or a kill)")
    return f"Essential container in task exited (trainer exit code {code})"


def _close_lost_attempt(job_dir: Path, record: JobRecord, attempts: list) -> None:
    """A previous runner died: stop what it left (a lost host's processes must not publish), record its attempt."""
    left = stop_job_processes(job_dir)
    if left:
        raise SystemExit(f"cannot stop the processes {left} of job {job_dir.name}; not starting another attempt")
    current = record.data.get("current_attempt")
    if current:
        attempts.append(
            {"started_at": current["started_at"], "stopped_at": time.time(), "exit_code": None,
             "reason": LOST_RUNNER, "log_stream": job_dir.name}
        )
        record.update(attempts=attempts, current_attempt=None, trainer_pid=None,
                      status="RUNNABLE", status_reason=f"retrying after {what_interrupted(LOST_RUNNER)}")


def run_job(home: Path, job_id: str, *, base_env: Mapping[str, str], progress_interval: str = "1",
            lock_fd: int | None = None) -> int:
    job_dir = home / "jobs" / job_id
    job_lock = lock_job(job_dir, lock_fd)
    if job_lock is None:
        return 0  # another runner has the job
    record = JobRecord(job_dir)
    if record.data["status"] in ("SUCCEEDED", "FAILED"):
        return 0
    host = Host()
    attempts = list(record.data.get("attempts", []))
    _close_lost_attempt(job_dir, record, attempts)
    record.update(runner_pid=os.getpid())
    if len(attempts) >= MAX_ATTEMPTS:
        record.update(status="FAILED", stopped_at=time.time(),
                      status_reason=attempts[-1]["reason"] if attempts else "no attempt left")
        return 1
    if record.data["status"] == "SUBMITTED":
        record.update(status="RUNNABLE")
    slot = _wait_for_slot(home, job_dir, record, host)
    if slot is None:
        if host.stopping:
            return 143  # still RUNNABLE: the next runner takes it from here
        record.update(status="FAILED", status_reason=_cancel_reason(job_dir), stopped_at=time.time())
        return 1

    spec = TrainingSpec(**record.data["spec"])
    record.update(status="STARTING", status_reason=None)
    workdir = job_dir / "work"
    final_status, final_reason = "FAILED", None
    with open(job_dir / "log.txt", "ab", buffering=0) as log:
        for number in range(len(attempts) + 1, MAX_ATTEMPTS + 1):
            if _cancel_reason(job_dir):
                final_reason = _cancel_reason(job_dir)
                break
            if host.stopping:
                return 143
            env = trainer_environment(
                base_env,
                spec,
                AWS_BATCH_JOB_ATTEMPT=str(number),
                **_array_index(record.data),
                OCRBATCH_PROGRESS_INTERVAL=progress_interval,
                OCRBATCH_WORKDIR=str(workdir),
                **job_mark(job_dir),
            )
            log.write(f"--- attempt {number} ---\n".encode())
            started = time.time()
            record.update(current_attempt={"number": number, "started_at": started})
            host.trainer = trainer = subprocess.Popen(
                [sys.executable, "-m", "ocrbatch.trainer"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a terminal's Ctrl-C is not the host going away
                pass_fds=(slot.fileno(),),
                preexec_fn=die_with_parent(),
            )
            record.update(
                status="RUNNING",
                trainer_pid=trainer.pid,
                started_at=record.data.get("started_at") or started,
            )
            if host.stopping or _cancel_reason(job_dir):  # asked while the trainer was starting
                trainer.send_signal(signal.SIGTERM)
            code = trainer.wait()
            # Whatever the trainer started goes with it: nothing of an ended attempt runs on.
            stop_job_processes(job_dir)
            cancelled = _cancel_reason(job_dir)
            reason = attempt_reason(code, cancelled=cancelled, host_stopping=host.stopping)
            attempts.append(
                {"started_at": started, "stopped_at": time.time(), "exit_code": code, "reason": reason,
                 "log_stream": job_id}
            )
            record.update(attempts=attempts, trainer_pid=None, current_attempt=None)
            if code == 0:
                final_status, final_reason = "SUCCEEDED", None
                break
            final_reason = reason
            if cancelled or not reason.startswith(LOCAL_INTERRUPTION):
                break  # like the job definition's retry strategy: EXIT on anything but a lost host
            record.update(status="RUNNABLE", status_reason=f"retrying after {what_interrupted(reason)}")
            if host.stopping:
                return 143  # the next runner makes the next attempt
    record.update(status=final_status, status_reason=final_reason, stopped_at=time.time())
    if final_status == "SUCCEEDED":
        shutil.rmtree(workdir, ignore_errors=True)
    slot.close()
    return 0 if final_status == "SUCCEEDED" else 1


if __name__ == "__main__":
    # Progress every second by default: local jobs are watched from the same machine.
    interval = os.environ.get("OCRBATCH_PROGRESS_INTERVAL") or "1"
    inherited = int(sys.argv[3]) if len(sys.argv) > 3 else None
    sys.exit(run_job(Path(sys.argv[1]), sys.argv[2], base_env=os.environ, progress_interval=interval,
                     lock_fd=inherited))
