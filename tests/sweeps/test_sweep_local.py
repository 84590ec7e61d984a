"""A local sweep end to end: three children of a tiny builtin model as local jobs, two at a time,
with the same states and results as on AWS (monitor, list, results, download --best, logs, cancel)."""

import json
from pathlib import Path

import pytest

from tests.cli_runner import run_local
from tests.polling import wait_for

pytest.importorskip("paddle")
pytestmark = pytest.mark.slow

TINY = ["--set", "channels=8,16,24,32", "--set", "hidden_size=32", "--set", "seq_blocks=1", "--set", "batch_size=16"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from ocrbatch.synth import generate_dataset

    root = tmp_path_factory.mktemp("scores")
    generate_dataset(root, count=160, seed=5, task="rec", styles=["seg7"], val_fraction=0.25)
    return root


def record(home: Path, job_id: str) -> dict:
    return json.loads((home / "jobs" / job_id / "job.json").read_text())


def test_three_children_train_two_at_a_time_and_are_ranked(dataset, home, tmp_path):
    run_local(home, "upload", dataset, "--name", "scores")
    out = json.loads(run_local(home, "sweep", "--dataset", "scores", "--epochs", "2", *TINY,
                               "--grid", "learning-rate=0.002,0.005,0.01", "--slots", "2", "--json").stdout)
    sweep_id, job_id = out["sweep_id"], out["job_id"]
    assert out["size"] == 3
    children = [f"{job_id}:{index}" for index in range(3)]

    def states() -> list[str]:
        return [record(home, child)["status"] for child in children]

    # Two slots: never three children training at once, and the third waits its turn (RUNNABLE).
    seen_running = []
    wait_for(lambda: seen_running.append(states().count("RUNNING")) or "SUCCEEDED" in states(), what="a child done",
             timeout=600)
    assert max(seen_running) <= 2

    monitored = run_local(home, "monitor", job_id, "--timeout", "900")
    assert "sweep of 3" in monitored.stdout and "3 SUCCEEDED" in monitored.stdout

    # Each child trained its own settings into its own run, beside the sweep's manifest.
    for index, rate in enumerate((0.002, 0.005, 0.01)):
        run = home / "store" / "runs" / f"{sweep_id}-{index}"
        trained = json.loads((run / "model" / "dataset.json").read_text())["spec"]
        assert trained["learning_rate"] == rate and trained["epochs"] == 2
        assert trained["overrides"]["hidden_size"] == "32"
    assert (home / "store" / "runs" / sweep_id / "sweep.json").is_file()

    ranked = json.loads(run_local(home, "sweep", "results", job_id, "--json").stdout)
    assert sorted(row["index"] for row in ranked["children"]) == [0, 1, 2]
    assert all(row["accuracy"] is not None and row["accuracy_from"] == "metrics" for row in ranked["children"])
    accuracies = [row["accuracy"] for row in ranked["children"]]
    assert accuracies == sorted(accuracies, reverse=True)

    listed = json.loads(run_local(home, "list", "--json").stdout)["jobs"]
    assert [(row["job_id"], row["sweep_size"], row["children_by_status"]) for row in listed] == [
        (job_id, 3, {"SUCCEEDED": 3})]
    best = json.loads(run_local(home, "download", job_id, "--best", "--output-dir", tmp_path / "best", "--json").stdout)
    assert best["job_id"] == ranked["children"][0]["job_id"] and best["verified"]
    assert "epoch" in run_local(home, "logs", f"{job_id}:1").stdout


def test_cancel_stops_every_child_and_the_running_ones_checkpoint_first(dataset, home):
    run_local(home, "upload", dataset, "--name", "scores")
    job_id = json.loads(run_local(home, "sweep", "--dataset", "scores", "--epochs", "300", *TINY,
                                  "--grid", "learning-rate=0.002,0.005", "--json").stdout)["job_id"]
    def training() -> bool:  # a child past its start-up: its trainer has taken steps (and handles SIGTERM)
        for progress in (home / "store" / "runs").glob("*-sweep-*-*/progress.json"):
            if json.loads(progress.read_text() or "{}").get("step"):
                return True
        return False

    wait_for(training, what="a child training", timeout=300)
    cancelled = json.loads(run_local(home, "cancel", job_id, "--json").stdout)
    assert cancelled["action"] == "cancel-sweep"
    wait_for(lambda: all(record(home, f"{job_id}:{i}")["status"] == "FAILED" for i in range(2)), what="FAILED",
             timeout=300)
    started = 0
    for index in range(2):
        child = record(home, f"{job_id}:{index}")
        assert "cancel" in child["status_reason"]
        if child["attempts"]:  # it was training: SIGTERM, and the trainer checkpointed before it stopped
            started += 1
            assert [attempt["exit_code"] for attempt in child["attempts"]] == [143]
            run = next((home / "store" / "runs").glob(f"*-sweep-*-{index}"))
            assert json.loads((run / "progress.json").read_text())["state"] == "interrupted"
            assert "checkpoint saved" in json.loads((run / "progress.json").read_text())["message"]
    assert started == 1  # one slot: the other child was withdrawn while it waited
    assert run_local(home, "monitor", job_id, expect=1).exit_code == 1
    # Batch's word is FAILED; `list` says CANCELLED for the sweep and each child, as `ocrbatch cancel` ended them.
    listed = json.loads(run_local(home, "list", "--expand", "--json").stdout)["jobs"][0]
    assert listed["status"] == "FAILED" and listed["cancelled"]
    assert [child["cancelled"] for child in listed["children"]] == [True, True]
    assert "CANCELLED sweep 2/2" in run_local(home, "list").stdout
