"""The trainer's stop budget (``ocrbatch.stop_window``): counted from SIGTERM, spent on saving and
uploading; what it cannot upload in time leaves the previous checkpoint pointed to and whole. Also the
interruption record a retried attempt writes (``ocrbatch.trainer.interruptions``)."""

from __future__ import annotations

import inspect
import json
import threading
import time

from ocrbatch.stop_window import STOP_BUDGET_S
from ocrbatch.storage import LocalStore
from ocrbatch.trainer import run as run_module
from ocrbatch.trainer.checkpoints import CheckpointSync
from ocrbatch.trainer.engines.base import LocalDataset, Preempted
from ocrbatch.trainer.interruptions import cost_of_previous_attempt, total_lost_seconds
from ocrbatch.trainer.spec import TrainingSpec


def test_stop_request_counts_the_budget_from_the_first_signal():
    stop = run_module.StopRequest()
    assert stop.time_left(10) == 10  # not signalled yet: the whole budget
    stop.set()
    first = stop.requested_at
    time.sleep(0.2)
    stop.set()  # a second SIGTERM does not restart the clock
    assert stop.requested_at == first
    assert 9.0 < stop.time_left(10) <= 9.8
    assert stop.time_left(0.1) == 0.0


def test_default_budget_is_the_spot_window():
    assert inspect.signature(run_module.run_training).parameters["stop_budget"].default == STOP_BUDGET_S == 100


class SlowStore(LocalStore):
    """A store whose uploads take ``delay`` seconds each once ``slow`` is set (a congested link)."""

    slow = False
    delay = 0.0

    def put_file(self, key, path):
        if self.slow:
            time.sleep(self.delay)
        return super().put_file(key, path)


class StoppingEngine:
    """Checkpoint 1 at start, then trains until stopped; on the stop it saves checkpoint 2 like a real engine."""

    name = "stopping"

    def __init__(self, store: SlowStore, signal_after: float):
        self.store = store
        self.signal_after = signal_after

    def train(self, ctx):
        (ctx.checkpoint_dir / "latest.pdparams").write_bytes(b"one" * 1000)
        ctx.on_checkpoint({"epoch": 1, "step": 0, "global_step": 10})
        ctx.report(epoch=2, step=0, global_step=10, steps_per_epoch=10, elapsed_seconds=5.0)
        # Wait for checkpoint 1 to land, then make the link slow and "receive" SIGTERM.
        deadline = time.monotonic() + 10
        while not self.store.exists("runs/r/checkpoints/current.json") and time.monotonic() < deadline:
            time.sleep(0.01)
        self.store.slow = True
        threading.Timer(self.signal_after, ctx.stop_requested.set).start()
        while not ctx.stop_requested.is_set():
            time.sleep(0.01)
        (ctx.checkpoint_dir / "latest.pdparams").write_bytes(b"two" * 1000)
        ctx.on_checkpoint({"epoch": 1, "step": 7, "global_step": 17})
        raise Preempted()


def run_until_stopped(tmp_path, monkeypatch, *, budget: float, upload_delay: float):
    store = SlowStore(tmp_path / "store")
    store.delay = upload_delay
    import ocrbatch.datasets

    def fake_fetch(_store, key, dest):
        dest.mkdir(parents=True, exist_ok=True)
        return LocalDataset(dest, "rec", dest / "train.txt", dest / "val.txt", ("0",), store.uri(key))

    monkeypatch.setattr(ocrbatch.datasets, "fetch_dataset", fake_fetch, raising=False)
    monkeypatch.setattr(run_module, "get_engine", lambda name: StoppingEngine(store, signal_after=0.1))
    monkeypatch.setattr(run_module, "store_at", lambda uri, **_clients: (store, uri.split("store/", 1)[1]))
    spec = TrainingSpec(dataset=store.uri("datasets/d/versions/v1"), output=store.uri("runs/r"))
    stop = run_module.StopRequest()
    code = run_module.run_training(spec, workdir=tmp_path / "w", stop_event=stop, attempt=1, stop_budget=budget)
    return store, stop, code, time.monotonic()


def test_stop_checkpoint_is_uploaded_within_the_budget(tmp_path, monkeypatch):
    store, stop, code, ended = run_until_stopped(tmp_path, monkeypatch, budget=5, upload_delay=0.3)
    assert code == run_module.EXIT_PREEMPTED
    assert ended - stop.requested_at < 5
    pointer = json.loads(store.get_bytes("runs/r/checkpoints/current.json"))
    assert pointer["info"] == {"epoch": 1, "step": 7, "global_step": 17}
    progress = json.loads(store.get_bytes("runs/r/progress.json"))
    assert progress["state"] == "interrupted" and "checkpoint saved" in progress["message"]


def test_upload_that_misses_the_budget_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    store, stop, code, ended = run_until_stopped(tmp_path, monkeypatch, budget=0.5, upload_delay=3)
    assert code == run_module.EXIT_PREEMPTED
    assert ended - stop.requested_at < 0.5 + 1.0  # it gave up on time rather than waiting for the upload
    pointer = json.loads(store.get_bytes("runs/r/checkpoints/current.json"))
    assert pointer["info"] == {"epoch": 1, "step": 0, "global_step": 10}
    progress = json.loads(store.get_bytes("runs/r/progress.json"))
    assert "did not finish in time" in progress["message"]
    time.sleep(3.5)  # let the abandoned upload finish writing into the other slot
    resumed = CheckpointSync(store, "runs/r/checkpoints/", tmp_path / "resume")
    assert resumed.restore()["info"] in ({"epoch": 1, "step": 0, "global_step": 10},
                                         {"epoch": 1, "step": 7, "global_step": 17})
    expected = b"one" * 1000 if resumed.current()["info"]["step"] == 0 else b"two" * 1000
    assert (resumed.local_dir / "latest.pdparams").read_bytes() == expected  # whole, never mixed


# --- what an interruption cost ----------------------------------------------------------------------


def test_stop_on_the_notice_costs_nothing():
    previous = {"state": "interrupted", "attempt": 1, "epoch": 4, "step": 5, "global_step": 35,
                "steps_per_epoch": 10, "elapsed_seconds": 70.0}
    assert cost_of_previous_attempt(previous, {"epoch": 3, "step": 5, "global_step": 35}) == {
        "attempt": 1, "notice": True, "lost_steps": 0, "lost_seconds": 0.0}


def test_kill_without_notice_costs_the_training_since_the_checkpoint():
    # Progress says the 4th epoch (counted from 1); the checkpoint, 2 epochs finished and 8 steps.
    previous = {"state": "training", "attempt": 2, "epoch": 4, "step": 5, "global_step": 35,
                "steps_per_epoch": 10, "elapsed_seconds": 70.0}  # 35 steps in 70 s: 2 s a step
    cost = cost_of_previous_attempt(previous, {"epoch": 2, "step": 8, "global_step": 28})
    assert cost == {"attempt": 2, "notice": False, "lost_steps": 7, "lost_seconds": 14.0}
    # No checkpoint at all: everything the attempt did is lost.
    assert cost_of_previous_attempt(previous, None)["lost_steps"] == 35


def test_steps_counted_across_epochs_need_no_epoch_length():
    # PaddleOCR's progress and checkpoints count global steps and never say how long an epoch is.
    previous = {"state": "training", "attempt": 1, "epoch": 2, "step": 47, "global_step": 47,
                "elapsed_seconds": 94.0}  # 2 s a step
    cost = cost_of_previous_attempt(previous, {"epoch": 1, "step": 40, "global_step": 40})
    assert cost == {"attempt": 1, "notice": False, "lost_steps": 7, "lost_seconds": 14.0}


def test_failures_and_successes_are_not_interruptions():
    for state in ("failed", "succeeded"):
        assert cost_of_previous_attempt({"state": state, "attempt": 1, "epoch": 1}, None) is None
    assert cost_of_previous_attempt(None, None) is None
    killed_while_fetching = cost_of_previous_attempt({"state": "fetching", "attempt": 1}, None)
    assert killed_while_fetching["lost_seconds"] == 0.0 and not killed_while_fetching["notice"]


def test_unknown_positions_give_no_figure_rather_than_a_wrong_one():
    previous = {"state": "training", "attempt": 1, "epoch": 2, "step": 40, "elapsed_seconds": 9.0}
    assert cost_of_previous_attempt(previous, {"epoch": 1})["lost_seconds"] is None
    assert total_lost_seconds([{"lost_seconds": None}, {"lost_seconds": 2.5}, {"lost_seconds": 1.0}]) == 3.5
    assert total_lost_seconds([{"lost_seconds": None}]) is None


def test_retried_attempt_records_what_the_stop_cost(tmp_path, monkeypatch):
    store, _, code, _ = run_until_stopped(tmp_path, monkeypatch, budget=5, upload_delay=0)
    assert code == run_module.EXIT_PREEMPTED

    class StopAtOnce:
        def train(self, ctx):
            ctx.stop_requested.set()
            raise Preempted()

    monkeypatch.setattr(run_module, "get_engine", lambda name: StopAtOnce())
    spec = TrainingSpec(dataset=store.uri("datasets/d/versions/v1"), output=store.uri("runs/r"))
    assert run_module.run_training(spec, workdir=tmp_path / "w2", attempt=2) == run_module.EXIT_PREEMPTED
    progress = json.loads(store.get_bytes("runs/r/progress.json"))
    assert progress["attempt"] == 2
    assert progress["resumed_from"] == {"epoch": 1, "step": 7, "global_step": 17}
    assert progress["interruptions"] == [{"attempt": 1, "notice": True, "lost_steps": 0, "lost_seconds": 0.0}]
