"""The processes of a local job, as the process table sees them: find them, stop them, tie them to the runner.

A local job is "on a host" for as long as any of its processes lives, so its processes carry a mark
through their environment (inherited by everything they start, data loader workers included):
``OCRBATCH_LOCAL_JOB=<job folder>``. With the mark, ``cancel`` stops every process of a job whatever
its record says, a restarted runner clears what its dead predecessor left before the next attempt,
and ``doctor`` names a stray trainer. The trainer also gets a parent-death signal (Linux), so the
kernel stops it when its runner dies, however the runner died.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable

JOB_MARK = "OCRBATCH_LOCAL_JOB"
_PR_SET_PDEATHSIG = 1


def job_mark(job_dir: Path) -> dict[str, str]:
    return {JOB_MARK: str(Path(job_dir).resolve())}


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die (SIGKILL) with the process that starts it, on Linux.

    SIGKILL, not SIGTERM: a runner that is gone is a lost host, and an attempt of a lost host must not
    go on to publish anything after it has been declared over."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(137)

    return preexec


def _mark_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read()
    except OSError:  # gone, or not ours to read
        return None
    prefix = JOB_MARK.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix):].decode("utf-8", "replace")
    return None


def _is_running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has exited; it only waits for its parent to read its status)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def marked_processes(home: Path) -> dict[int, Path]:
    """Every live process of this home's local jobs: pid -> its job folder."""
    jobs = str((Path(home) / "jobs").resolve()) + os.sep
    found = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        mark = _mark_of(int(entry.name))
        if mark and mark.startswith(jobs) and _is_running(int(entry.name)):
            found[int(entry.name)] = Path(mark)
    return found


def job_processes(job_dir: Path) -> list[int]:
    job_dir = Path(job_dir).resolve()
    return sorted(pid for pid, mark in marked_processes(job_dir.parent.parent).items() if mark == job_dir)


def signal_job(job_dir: Path, signum: int) -> list[int]:
    """Send ``signum`` to every process of the job; the pids it reached."""
    reached = []
    for pid in job_processes(job_dir):
        try:
            os.kill(pid, signum)
            reached.append(pid)
        except (ProcessLookupError, PermissionError):
            pass
    return reached


def stop_job_processes(job_dir: Path, *, grace_s: float = 0.0, wait_s: float = 10.0) -> list[int]:
    """Stop every process of the job (SIGTERM, then SIGKILL after ``grace_s``); wait until none is left.

    Returns the processes still running after ``wait_s`` (none, unless they are not ours to kill)."""
    if grace_s > 0 and signal_job(job_dir, signal.SIGTERM):
        deadline = time.monotonic() + grace_s
        while job_processes(job_dir) and time.monotonic() < deadline:
            time.sleep(0.1)
    signal_job(job_dir, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while (left := job_processes(job_dir)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left
