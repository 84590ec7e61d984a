"""Through the trainer's orchestration (run_training) with an engine that reports like the real ones:
a reclaimed attempt and its retry leave one history, and the published model carries it, the data
summary and the page, all listed in its manifest."""

import json

import pytest
from PIL import Image

from ocrbatch import artifact
from ocrbatch.datasets.local_dataset import LocalDataset
from ocrbatch.layout import RunLayout
from ocrbatch.storage import LocalStore
from ocrbatch.trainer import run as run_module
from ocrbatch.trainer.engines.base import Preempted, TrainResult
from ocrbatch.trainer.spec import TrainingSpec


class ReportingEngine:
    """Ten steps an epoch, an evaluation after each epoch; stops when asked, like a real engine."""

    name = "reporting"

    def __init__(self, stop_at_step=None):
        self.stop_at_step = stop_at_step

    def train(self, ctx):
        state_file = ctx.checkpoint_dir / "latest.json"
        step = json.loads(state_file.read_text())["global_step"] if state_file.exists() else 0
        while step < 40:
            step += 1
            ctx.history.step(step, 5.0 / step)
            if step % 10 == 0:
                ctx.history.evaluation(step, {"accuracy": step / 50, "norm_edit_distance": 0.5 - step / 100})
                state_file.write_text(json.dumps({"global_step": step}))
                ctx.on_checkpoint({"global_step": step})
            if step == self.stop_at_step:
                raise Preempted()
        for name in ("inference.json", "inference.pdiparams", "inference.yml"):
            (ctx.export_dir / name).write_text(name)
        (ctx.export_dir / "evaluation.json").write_text(json.dumps({"task": "rec", "samples": 2, "mistakes": []}))
        (ctx.workdir / "dict.txt").write_text("0\n1\n")
        (ctx.workdir / "config.yml").write_text("epochs: 4\n")
        return TrainResult(model_name="PP-OCRv5_mobile_rec", metrics={"accuracy": 0.8, "norm_edit_distance": 0.1},
                           dict_file=ctx.workdir / "dict.txt", config_file=ctx.workdir / "config.yml")


@pytest.fixture
def run_of(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "store")
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    for index in range(4):
        Image.new("RGB", (80, 32), (index * 60, 30, 30)).save(data / f"images/{index}.jpg")
    (data / "train.txt").write_text("images/0.jpg\t10\nimages/1.jpg\t01\nimages/2.jpg\t1\n")
    (data / "val.txt").write_text("images/3.jpg\t0\n")

    def fetch(_store, key, dest):
        return LocalDataset(data, "rec", data / "train.txt", data / "val.txt", ("0", "1"), store.uri(key))

    import ocrbatch.datasets

    monkeypatch.setattr(ocrbatch.datasets, "fetch_dataset", fetch, raising=False)
    spec = TrainingSpec(dataset=store.uri("datasets/d/versions/v1"), output=store.uri("runs/run-1/"))

    def run(engine, attempt):
        monkeypatch.setattr(run_module, "get_engine", lambda name: engine)
        return run_module.run_training(spec, workdir=tmp_path / f"w{attempt}", attempt=attempt)

    return store, RunLayout("run-1"), run


def test_a_reclaimed_run_publishes_one_history_and_its_page(run_of):
    store, layout, run = run_of
    assert run(ReportingEngine(stop_at_step=25), attempt=1) == run_module.EXIT_PREEMPTED
    live = json.loads(store.get_bytes(layout.history))
    assert [(a["attempt"], a["state"]) for a in live["attempts"]] == [(1, "interrupted")]
    assert live["steps"][-1]["step"] == 25

    assert run(ReportingEngine(), attempt=2) == 0
    manifest = artifact.read_manifest(store, layout.model)
    assert {"history.json", "evaluation.json", "dataset.json", "report.html"} <= set(manifest["files"])
    history = json.loads(store.get_bytes(layout.model + "history.json"))
    assert [(a["attempt"], a["state"]) for a in history["attempts"]] == [(1, "interrupted"), (2, "succeeded")]
    assert history["attempts"][1]["resumed_from"] == {"global_step": 20}
    steps = [(p["attempt"], p["step"]) for p in history["steps"]]
    assert steps[:25] == [(1, s) for s in range(1, 26)] and steps[25:] == [(2, s) for s in range(21, 41)]
    assert [(e["attempt"], e["step"]) for e in history["evals"]] == [(1, 10), (1, 20), (2, 30), (2, 40)]
    summary = json.loads(store.get_bytes(layout.model + "dataset.json"))["summary"]
    assert summary["counts"] == {"train": 3, "val": 1} and len(summary["samples"]) == 3
    page = store.get_bytes(layout.model + "report.html").decode()
    assert "Run run-1" in page and "Attempt 2 resumes (attempt 1: stopped on SIGTERM) at step 20." in page
    assert "<td>model</td><td>PP-OCRv5_mobile_rec</td>" in page


def test_the_history_up_to_a_checkpoint_is_in_the_store_before_the_checkpoint_is(run_of):
    store, layout, run = run_of
    seen = {}

    class DiesAfterItsCheckpoint(ReportingEngine):
        def train(self, ctx):
            for step in range(1, 11):
                ctx.history.step(step, 1.0 / step)
            (ctx.checkpoint_dir / "latest.json").write_text(json.dumps({"global_step": 10}))
            ctx.on_checkpoint({"global_step": 10})
            seen["steps"] = [p["step"] for p in json.loads(store.get_bytes(layout.history))["steps"]]
            raise RuntimeError("the host went away")  # no end() of its own: as good as a kill

    assert run(DiesAfterItsCheckpoint(), attempt=1) == run_module.EXIT_FAILED
    assert seen["steps"] == list(range(1, 11))
