"""The local backend's bookkeeping, without training: what the trainer is given, who writes job.json, and
what is left in the process table when a runner or a finished job leaves processes behind."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ocrbatch.jobs.doctor import check_stray_trainers
from ocrbatch.jobs.local import LOST_RUNNER, MAX_ATTEMPTS, LocalBackend
from ocrbatch.jobs.local_processes import job_mark, job_processes
from ocrbatch.jobs.local_runner import WAITING, slot_lock_name, trainer_environment
from ocrbatch.trainer.spec import TrainingSpec
from tests.cli_runner import run_local
from tests.polling import wait_for


def test_the_trainer_gets_the_jobs_spec_and_none_of_the_users_ocrbatch_variables():
    spec = TrainingSpec(dataset="file:///s/datasets/d/versions/v", output="file:///s/runs/r/", epochs=3)
    shell = {"PATH": "/usr/bin", "OCRBATCH_LEARNING_RATE": "0.5", "OCRBATCH_EPOCHS": "99", "OCRBATCH_CACHE_DIR": "/c"}
    env = trainer_environment(shell, spec, AWS_BATCH_JOB_ATTEMPT="2")
    assert env["OCRBATCH_EPOCHS"] == "3" and env["PATH"] == "/usr/bin" and env["AWS_BATCH_JOB_ATTEMPT"] == "2"
    assert "OCRBATCH_LEARNING_RATE" not in env and env["OCRBATCH_CACHE_DIR"] == "/c"
    assert TrainingSpec.from_env(env) == spec


def marked_sleeper(job_dir: Path) -> subprocess.Popen:
    """A process carrying the job's mark, as a trainer (or its data loader worker) would."""
    return subprocess.Popen(["sleep", "600"], env={**os.environ, **job_mark(job_dir)}, start_new_session=True)


def write_record(backend: LocalBackend, job_id: str, **values) -> Path:
    job_dir = backend.jobs_dir / job_id
    job_dir.mkdir()
    spec = TrainingSpec(dataset="file:///nowhere/datasets/d/versions/v", output="file:///nowhere/runs/r/")
    record = {"job_id": job_id, "job_name": "j", "status": "RUNNING", "created_at": 1.0, "attempts": [],
              "spec": spec.to_json(), **values}
    (job_dir / "job.json").write_text(json.dumps(record))
    return job_dir


def gone(process: subprocess.Popen) -> bool:
    return process.poll() is not None


def test_a_dead_runner_is_a_lost_host_its_processes_are_stopped_and_its_attempt_recorded(tmp_path):
    backend = LocalBackend(tmp_path)
    lost = {"started_at": 2.0, "stopped_at": 3.0, "exit_code": -9, "reason": "Host terminated: trainer killed by SIGKILL"}
    # Two attempts already lost, the third in flight when its runner died: no attempt is left after it.
    job_dir = write_record(backend, "local-1", attempts=[lost, lost], current_attempt={"number": 3, "started_at": 4.0})
    orphan = marked_sleeper(job_dir)
    try:
        before = (job_dir / "job.json").read_bytes()
        info = backend.describe("local-1")  # finds the job's lock free: starts a runner, writes nothing itself
        assert info.status == "RUNNABLE" and info.status_reason == "restarting after the job's runner died (killed, or this machine went down)"
        assert (job_dir / "job.json").read_bytes() == before

        done = wait_for(lambda: (job := backend.describe("local-1")).done and job, what="the restarted runner")
        assert gone(orphan), "the lost attempt's process outlived it"
        assert done.status == "FAILED" and done.status_reason == LOST_RUNNER
        assert [a.reason for a in done.attempts][-1] == LOST_RUNNER and len(done.attempts) == MAX_ATTEMPTS
        assert job_processes(job_dir) == []
    finally:
        orphan.kill()
        orphan.wait()


def test_cancel_and_doctor_find_the_stray_processes_of_a_finished_job(tmp_path):
    backend = LocalBackend(tmp_path)
    job_dir = write_record(backend, "local-2", status="FAILED", status_reason=LOST_RUNNER)
    stray = marked_sleeper(job_dir)
    try:
        wait_for(lambda: job_processes(job_dir), what="the stray in the process table")
        check = check_stray_trainers(tmp_path)
        assert check.status == "fail" and "local-2" in check.detail and str(stray.pid) in check.detail
        assert "ocrbatch cancel local-2" in check.detail

        assert backend.cancel("local-2", "cancelled with ocrbatch cancel").status == "FAILED"
        assert gone(stray) and job_processes(job_dir) == []
        assert check_stray_trainers(tmp_path).status == "ok"
    finally:
        stray.kill()
        stray.wait()


def test_the_trainer_dies_with_its_parent_whatever_killed_it(tmp_path):
    """The parent-death signal the runner arms in its trainer: a SIGKILLed parent takes the child along."""
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time; from ocrbatch.jobs.local_processes import die_with_parent\n"
        "child = subprocess.Popen(['sleep', '600'], preexec_fn=die_with_parent())\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid)); time.sleep(600)"
    )])
    child = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), what="the child"))
    parent.kill()
    parent.wait()
    wait_for(lambda: not os.path.exists(f"/proc/{child}") or open(f"/proc/{child}/stat").read().split(") ")[1][0] == "Z",
             timeout=5, what="the child to die with its parent")


def test_a_second_cancel_sends_nothing_and_says_the_job_is_already_stopping(tmp_path):
    from ocrbatch.jobs.local import lock_job

    backend = LocalBackend(tmp_path)
    job_dir = write_record(backend, "local-3")
    counted = tmp_path / "sigterms"
    trainer = subprocess.Popen(
        [sys.executable, "-c", (
            "import signal, time\n"
            "count = 0\n"
            "def note(*_):\n"
            "    global count\n"
            f"    count += 1; open({str(counted)!r}, 'w').write(str(count))\n"
            "signal.signal(signal.SIGTERM, note)\n"
            "time.sleep(600)\n"
        )],
        env={**os.environ, **job_mark(job_dir)},
    )
    runner_lock = lock_job(job_dir)  # this test is the job's live runner
    try:
        record = json.loads((job_dir / "job.json").read_text())
        (job_dir / "job.json").write_text(json.dumps({**record, "trainer_pid": trainer.pid}))
        wait_for(lambda: job_processes(job_dir), what="the trainer in the process table")
        time.sleep(0.5)  # its SIGTERM handler is installed

        first = run_local(tmp_path, "cancel", "local-3")
        assert first.stdout.startswith("terminating job local-3 (it was RUNNING)")
        wait_for(lambda: counted.exists(), what="the SIGTERM")
        second = run_local(tmp_path, "cancel", "local-3")
        assert second.stdout.startswith("job local-3 is already being cancelled (RUNNING: its trainer saves")
        time.sleep(0.5)
        assert counted.read_text() == "1"
    finally:
        runner_lock.close()
        trainer.kill()
        trainer.wait()


def test_list_counts_a_local_jobs_interrupted_attempts_and_never_calls_them_reclaims(tmp_path):
    backend = LocalBackend(tmp_path)
    lost = {"started_at": 2.0, "stopped_at": 3.0, "exit_code": None, "reason": LOST_RUNNER}
    write_record(backend, "local-3", status="FAILED", status_reason="boom",
                 attempts=[lost, {**lost, "exit_code": 1, "reason": "Essential container in task exited"}])
    result = run_local(tmp_path, "list")
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[-1] == "INTERRUPTED" and "RECLAIMS" not in header
    assert row.split()[0] == "local-3" and row.split()[-1] == "1"


def test_a_job_cancelled_while_it_waits_for_the_slot_is_listed_cancelled_and_a_failed_one_failed(tmp_path):
    import fcntl

    backend = LocalBackend(tmp_path)
    write_record(backend, "local-1", status="FAILED", status_reason="Essential container in task exited")
    write_record(backend, "local-2", status="SUBMITTED", created_at=2.0)
    with open(tmp_path / slot_lock_name(0), "w") as slot:
        fcntl.flock(slot, fcntl.LOCK_EX)  # another job trains: local-2's runner waits for the slot
        assert backend.describe("local-2").status in ("SUBMITTED", "RUNNABLE")  # starts its runner
        wait_for(lambda: backend.describe("local-2").status_reason == WAITING, what="the runner waiting")
        cancelled = run_local(tmp_path, "cancel", "local-2", "--reason", "wrong dataset")
        assert cancelled.stdout.startswith("cancelled job local-2 (it was RUNNABLE)")
        done = wait_for(lambda: (job := backend.describe("local-2")).done and job, what="the cancel")
    assert done.status == "FAILED" and done.status_reason == "cancelled with ocrbatch cancel: wrong dataset"
    assert done.attempts == ()  # it never started

    rows = {line.split()[0]: line.split()[2] for line in run_local(tmp_path, "list").stdout.splitlines()[1:]}
    assert rows == {"local-2": "CANCELLED", "local-1": "FAILED"}
    listed = {job["job_id"]: job for job in json.loads(run_local(tmp_path, "list", "--json").stdout)["jobs"]}
    assert (listed["local-2"]["status"], listed["local-2"]["cancelled"]) == ("FAILED", True)
    assert (listed["local-1"]["status"], listed["local-1"]["cancelled"]) == ("FAILED", False)
