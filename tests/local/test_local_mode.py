"""Local mode end to end, through the CLI: the same commands as on AWS, the trainer as a local process.

upload -> submit -> monitor -> download -> predict on a tiny generated dataset; a job cancelled while
it trains; a job whose trainer is killed (as a reclaim drill does) and which resumes from its
checkpoint on the next attempt.
"""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

from tests.cli_runner import run_local
from tests.polling import wait_for

pytest.importorskip("paddle")
pytest.importorskip("cv2")
pytestmark = pytest.mark.slow

# A small network, so a job takes seconds; mid-epoch checkpoints every second for the kill tests.
TINY = ["--set", "channels=8,16,24,32", "--set", "hidden_size=32", "--set", "seq_blocks=1", "--set", "batch_size=16"]


def job_record(home: Path, job_id: str) -> dict:
    return json.loads((home / "jobs" / job_id / "job.json").read_text())


def test_pipeline_upload_submit_monitor_download_predict(dataset, home, tmp_path):
    upload = json.loads(run_local(home, "upload", str(dataset), "--name", "scores", "--json").stdout)
    submitted = json.loads(
        run_local(home, "submit", "--dataset", f"scores@{upload['version_id']}", "--epochs", "2", *TINY, "--json").stdout
    )
    job_id = submitted["job_id"]
    assert submitted["backend"] == "local"

    monitored = run_local(home, "monitor", job_id)
    assert "SUCCEEDED" in monitored.stdout + monitored.stderr
    # Epochs count from 1 on every engine: the finished 2-epoch run reads 2 of 2, not 1 of 2.
    assert "progress: succeeded, epoch 2/2, step" in monitored.stdout
    # The run's page was published with the model, and monitor says where.
    assert re.search(r"^report: file://\S+/model/report\.html$", monitored.stdout, flags=re.M)

    listed = json.loads(run_local(home, "list", "--json").stdout)
    assert any(job["job_id"] == job_id and job["status"] == "SUCCEEDED" for job in listed["jobs"])
    assert "epoch" in run_local(home, "logs", job_id).stdout

    model_dir = tmp_path / "model"
    downloaded = json.loads(run_local(home, "download", job_id, "--output-dir", str(model_dir), "--json").stdout)
    assert {"inference.json", "inference.pdiparams", "inference.yml", "metrics.json", "manifest.json",
            "report.html", "history.json", "evaluation.json"} <= {p.name for p in model_dir.iterdir()}
    assert downloaded["report"] == str(model_dir.resolve() / "report.html")
    # The same model again is a no-op; a different folder content is refused without --force.
    run_local(home, "download", job_id, "--output-dir", str(model_dir))

    image = dataset / (dataset / "val.txt").read_text().splitlines()[0].split("\t")[0]
    predicted = json.loads(run_local(home, "predict", "--model", str(model_dir), str(image), "--json").stdout)
    assert len(predicted["predictions"]) == 1
    assert set(predicted["predictions"][0]["text"]) <= set("0123456789,.")
    # A job id works as --model too (downloaded once into the local home).
    by_job = json.loads(run_local(home, "predict", "--model", job_id, str(image), "--json").stdout)
    assert by_job["predictions"][0]["text"] == predicted["predictions"][0]["text"]


def test_cancel_a_running_job(dataset, home):
    run_local(home, "upload", str(dataset), "--name", "scores")
    submitted = run_local(home, "submit", "--dataset", "scores", "--epochs", "200", *TINY, "--json")
    job_id = json.loads(submitted.stdout)["job_id"]
    wait_for(lambda: job_record(home, job_id)["status"] == "RUNNING", what="RUNNING")
    progress_file = lambda: next((home / "store" / "runs").glob("*/progress.json"), None)  # noqa: E731
    wait_for(lambda: progress_file() and json.loads(progress_file().read_text()).get("step"), what="training steps")

    run_local(home, "cancel", job_id)
    record = wait_for(lambda: (r := job_record(home, job_id))["status"] == "FAILED" and r, what="FAILED")
    assert "cancel" in record["status_reason"]
    assert len(record["attempts"]) == 1  # a cancel is never retried
    assert json.loads(progress_file().read_text())["state"] == "interrupted"
    assert run_local(home, "monitor", job_id, expect=1).exit_code == 1


@pytest.mark.parametrize("kill", ["SIGKILL", "SIGTERM"])
def test_killed_trainer_resumes_from_checkpoint(dataset, home, kill):
    run_local(home, "upload", str(dataset), "--name", "scores")
    job_id = json.loads(
        run_local(home, "submit", "--dataset", "scores", "--epochs", "6", *TINY,
                  "--set", "checkpoint_every_seconds=1", "--json").stdout
    )["job_id"]
    pointer = lambda: next((home / "store" / "runs").glob("*/checkpoints/current.json"), None)  # noqa: E731
    wait_for(pointer, what="a checkpoint in the store")
    trainer_pid = wait_for(lambda: job_record(home, job_id).get("trainer_pid"), what="trainer pid")
    os.kill(trainer_pid, getattr(signal, kill))  # the host goes away

    run_local(home, "monitor", job_id)
    record = job_record(home, job_id)
    assert record["status"] == "SUCCEEDED"
    assert [a["reason"] is not None for a in record["attempts"]] == [True, False]
    assert record["attempts"][0]["reason"].startswith("Interrupted locally: the trainer was")
    # Said as what happened on this machine, never as a Spot reclaim; the retry is still announced.
    monitored = run_local(home, "monitor", job_id, "--once")
    assert "attempt 1: interrupted, the trainer was" in monitored.stdout and "Spot reclaim" not in monitored.stdout
    progress = json.loads(next((home / "store" / "runs").glob("*/progress.json")).read_text())
    assert progress["attempt"] == 2 and progress["resumed_from"], progress
    assert "--- attempt 2 ---" in (home / "jobs" / job_id / "log.txt").read_text()
    # The run's history kept the killed attempt's points (at least those up to its checkpoint), and
    # the retry's start where it resumed; an attempt killed without notice never said it ended.
    history = json.loads(next((home / "store" / "runs").glob("*/model/history.json")).read_text())
    first, second = history["attempts"]
    ended = "training" if kill == "SIGKILL" else "interrupted"
    assert (first["attempt"], first["state"], second["attempt"], second["state"]) == (1, ended, 2, "succeeded")
    assert second["resumed_from"] == progress["resumed_from"]
    assert {p["attempt"] for p in history["steps"]} == {1, 2}
