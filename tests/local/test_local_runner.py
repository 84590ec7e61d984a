"""The local backend's bookkeeping, without training: what the trainer is given, who writes job.json."""

import json
import os

from ocrbatch.jobs.local import LocalBackend
from ocrbatch.jobs.local_runner import trainer_environment
from ocrbatch.trainer.spec import TrainingSpec


def test_the_trainer_gets_the_jobs_spec_and_none_of_the_users_ocrbatch_variables():
    spec = TrainingSpec(dataset="file:///s/datasets/d/versions/v", output="file:///s/runs/r/", epochs=3)
    shell = {"PATH": "/usr/bin", "OCRBATCH_LEARNING_RATE": "0.5", "OCRBATCH_EPOCHS": "99", "OCRBATCH_HOME": "/h"}
    env = trainer_environment(shell, spec, AWS_BATCH_JOB_ATTEMPT="2")
    assert env["OCRBATCH_EPOCHS"] == "3" and env["PATH"] == "/usr/bin" and env["AWS_BATCH_JOB_ATTEMPT"] == "2"
    assert "OCRBATCH_LEARNING_RATE" not in env and "OCRBATCH_HOME" not in env
    assert TrainingSpec.from_env(env) == spec


def dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_describe_reports_a_dead_runner_without_writing_the_record(tmp_path):
    backend = LocalBackend(tmp_path)
    job_dir = backend.jobs_dir / "local-1"
    job_dir.mkdir()
    record = {"job_id": "local-1", "job_name": "j", "status": "RUNNING", "created_at": 1.0, "attempts": []}
    (job_dir / "job.json").write_text(json.dumps(record))
    (job_dir / "runner.pid").write_text(str(dead_pid()))
    before = (job_dir / "job.json").read_bytes()

    info = backend.describe("local-1")
    assert info.status == "FAILED" and info.status_reason == "local runner process died"
    assert [job.status for job in backend.list_jobs()] == ["FAILED"]
    assert (job_dir / "job.json").read_bytes() == before
