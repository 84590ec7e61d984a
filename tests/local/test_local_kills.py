"""A local job and its processes live and die together, whichever of them is killed and however.

Each test kills one process of a training job (its runner or its trainer; SIGKILL or SIGTERM), then
reads the process table: nothing of the job may run on unanswered, a second job never trains beside
it, and the job ends as Batch would end it after losing a host: retried from its last checkpoint.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import pytest

from ocrbatch.jobs.local import LOST_RUNNER
from ocrbatch.jobs.local_processes import job_processes, marked_processes
from tests.cli_runner import run_local
from tests.local.test_local_mode import TINY, job_record
from tests.polling import wait_for

pytest.importorskip("paddle")
pytest.importorskip("cv2")
pytestmark = pytest.mark.slow


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def submit(home: Path, epochs: int) -> str:
    return json.loads(
        run_local(home, "submit", "--dataset", "scores", "--epochs", str(epochs), *TINY,
                  "--set", "checkpoint_every_seconds=1", "--json").stdout
    )["job_id"]


def training_with_a_checkpoint(home: Path, job_id: str) -> dict:
    run = job_record(home, job_id)["spec"]["output"].rstrip("/").rsplit("/", 1)[-1]
    wait_for(lambda: (home / "store" / "runs" / run / "checkpoints" / "current.json").exists(), what="a checkpoint")
    return wait_for(lambda: (r := job_record(home, job_id)).get("trainer_pid") and r, what="the trainer")


@pytest.fixture
def trainings(home):
    """The jobs seen training, sampled from the process table all through the test; never two at once."""
    seen: set[str] = set()
    overlaps: list[set[str]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            jobs = {path.name for path in marked_processes(home).values()}
            seen.update(jobs)
            if len(jobs) > 1:
                overlaps.append(jobs)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    yield seen
    stop.set()
    sampler.join()
    assert not overlaps, f"two jobs trained at once: {overlaps[:3]}"


@pytest.mark.parametrize("kill", ["SIGKILL", "SIGTERM"])
def test_a_killed_runner_takes_its_trainer_along_and_the_job_retries_from_its_checkpoint(
    dataset, home, trainings, kill
):
    run_local(home, "upload", str(dataset), "--name", "scores")
    job_id = submit(home, epochs=6)
    record = training_with_a_checkpoint(home, job_id)
    waiting = submit(home, epochs=1)  # takes the slot once the killed job's processes are all gone
    job_dir = home / "jobs" / job_id
    old = [record["runner_pid"], *job_processes(job_dir)]
    assert record["trainer_pid"] in old

    os.kill(record["runner_pid"], getattr(signal, kill))  # the host goes away
    # Read straight from the process table and the record (no ocrbatch command: it would restart the job).
    wait_for(lambda: not any(running(pid) for pid in old), timeout=120, what="every process of the job to end")
    assert job_processes(job_dir) == []

    run_local(home, "monitor", job_id, "--no-logs")  # looking at the job restarts it, as Batch would retry it
    record = job_record(home, job_id)
    assert record["status"] == "SUCCEEDED", record
    first, second = record["attempts"]
    expected = LOST_RUNNER if kill == "SIGKILL" else (
        "Interrupted locally: the job's runner was stopped by SIGTERM, and stopped its trainer")
    assert first["reason"] == expected and second["reason"] is None
    run = record["spec"]["output"].rstrip("/").rsplit("/", 1)[-1]
    progress = json.loads((home / "store" / "runs" / run / "progress.json").read_text())
    assert progress["attempt"] == 2 and progress["resumed_from"], progress
    run_local(home, "monitor", waiting, "--no-logs")
    assert trainings == {job_id, waiting}
    assert marked_processes(home) == {} and not any(running(pid) for pid in old)


@pytest.mark.parametrize("kill", ["SIGKILL", "SIGTERM"])
def test_a_killed_trainer_leaves_nothing_and_its_job_keeps_the_slot(dataset, home, trainings, kill):
    run_local(home, "upload", str(dataset), "--name", "scores")
    first = submit(home, epochs=4)
    record = training_with_a_checkpoint(home, first)
    second = submit(home, epochs=1)  # waits for the slot
    old = job_processes(home / "jobs" / first)

    os.kill(record["trainer_pid"], getattr(signal, kill))
    run_local(home, "monitor", first, "--no-logs")
    run_local(home, "monitor", second, "--no-logs")

    assert not any(running(pid) for pid in old) and marked_processes(home) == {}
    attempts = job_record(home, first)["attempts"]
    assert attempts[0]["reason"].startswith("Interrupted locally: the trainer was") and attempts[1]["reason"] is None
    assert trainings == {first, second}
