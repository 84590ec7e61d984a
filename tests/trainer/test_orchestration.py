"""The engine-independent trainer: checkpoint sync, resume, SIGTERM, progress and publishing."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ocrbatch import artifact
from ocrbatch.errors import IntegrityError
from ocrbatch.layout import RunLayout
from ocrbatch.storage import LocalStore
from ocrbatch.trainer import run as run_module
from ocrbatch.trainer.checkpoints import CheckpointSync
from ocrbatch.trainer.engines.base import LocalDataset, Preempted, TrainResult
from ocrbatch.trainer.spec import TrainingSpec


def write_checkpoint(folder: Path, epoch: int) -> None:
    (folder / "latest.pdparams").write_bytes(f"params-{epoch}".encode() * 100)
    (folder / "latest.json").write_text(json.dumps({"epoch": epoch}))


def test_checkpoint_round_trip_and_slots_alternate(tmp_path):
    store = LocalStore(tmp_path / "store")
    sync = CheckpointSync(store, "runs/r1/checkpoints/", tmp_path / "a")
    for epoch in (1, 2, 3):
        write_checkpoint(sync.local_dir, epoch)
        sync.announce({"epoch": epoch})
        sync.flush()
    pointer = sync.current()
    assert pointer["info"] == {"epoch": 3}
    assert sync.uploaded == 3
    assert pointer["slot"] == "a"  # a, b, a
    sync.close()

    other = CheckpointSync(store, "runs/r1/checkpoints/", tmp_path / "b")
    (other.local_dir / "stale.bin").write_bytes(b"from a killed attempt")
    restored = other.restore()
    assert restored["info"] == {"epoch": 3}
    assert json.loads((other.local_dir / "latest.json").read_text()) == {"epoch": 3}
    assert not (other.local_dir / "stale.bin").exists()
    other.close()


def test_interrupted_upload_keeps_previous_checkpoint(tmp_path):
    store = LocalStore(tmp_path / "store")
    sync = CheckpointSync(store, "runs/r1/checkpoints/", tmp_path / "a")
    write_checkpoint(sync.local_dir, 1)
    sync.announce({"epoch": 1})
    sync.flush()

    real_put = store.put_file

    def dying_put(key, path):  # the instance is reclaimed while the second checkpoint uploads
        real_put(key, path)
        raise ConnectionError("instance gone")

    store.put_file = dying_put
    write_checkpoint(sync.local_dir, 2)
    sync.announce({"epoch": 2})
    with pytest.raises(ConnectionError):
        sync.flush()
    store.put_file = real_put

    resumed = CheckpointSync(store, "runs/r1/checkpoints/", tmp_path / "b")
    assert resumed.restore()["info"] == {"epoch": 1}
    assert (resumed.local_dir / "latest.pdparams").read_bytes() == b"params-1" * 100


def test_snapshots_of_a_killed_attempt_stay_in_its_work_folder(tmp_path, monkeypatch):
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(system_tmp))
    store = LocalStore(tmp_path / "store")
    work = tmp_path / "work"
    sync = CheckpointSync(store, "runs/r1/checkpoints/", work / "checkpoints")
    write_checkpoint(sync.local_dir, 1)
    sync.announce({"epoch": 1})
    sync.flush()  # the attempt is killed here: close() never runs
    assert list(system_tmp.iterdir()) == []
    left = [path for path in work.iterdir() if path != sync.local_dir]
    assert left and all(path.name.startswith(".") for path in left)

    resumed = CheckpointSync(store, "runs/r1/checkpoints/", work / "checkpoints")
    assert resumed.restore()["info"] == {"epoch": 1}
    resumed.close()
    assert [path.name for path in work.iterdir()] == ["checkpoints"]


def test_corrupt_checkpoint_is_rejected(tmp_path):
    store = LocalStore(tmp_path / "store")
    sync = CheckpointSync(store, "runs/r1/checkpoints/", tmp_path / "a")
    write_checkpoint(sync.local_dir, 1)
    sync.announce({"epoch": 1})
    sync.close()
    slot = sync.current()["slot"]
    store.put_bytes(f"runs/r1/checkpoints/{slot}/latest.pdparams", b"garbage")
    with pytest.raises(IntegrityError):
        CheckpointSync(store, "runs/r1/checkpoints/", tmp_path / "b").restore()


class FakeEngine:
    """Counts epochs in a checkpoint; stops when asked, like a real engine."""

    name = "fake"

    def __init__(self, epochs=4, stop_after=None):
        self.epochs = epochs
        self.stop_after = stop_after
        self.started_from = None

    def train(self, ctx):
        state_file = ctx.checkpoint_dir / "latest.json"
        start = json.loads(state_file.read_text())["epoch"] if state_file.exists() else 0
        self.started_from = start
        for epoch in range(start + 1, self.epochs + 1):
            state_file.write_text(json.dumps({"epoch": epoch}))
            ctx.on_checkpoint({"epoch": epoch})
            ctx.report(epoch=epoch, epochs=self.epochs, loss=1.0 / epoch)
            if self.stop_after == epoch:
                ctx.stop_requested.set()
            if ctx.stop_requested.is_set():
                raise Preempted()
        for name in ("inference.json", "inference.pdiparams", "inference.yml"):
            (ctx.export_dir / name).write_text(name)
        (ctx.workdir / "dict.txt").write_text("0\n1\n")
        (ctx.workdir / "config.yml").write_text("epochs: 4\n")
        return TrainResult(
            model_name="PP-OCRv5_mobile_rec",
            metrics={"accuracy": 0.97, "epochs": self.epochs},
            dict_file=ctx.workdir / "dict.txt",
            config_file=ctx.workdir / "config.yml",
        )


@pytest.fixture
def harness(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "store")
    layout = RunLayout("run-1")

    def fake_fetch(_store, key, dest):
        dest.mkdir(parents=True, exist_ok=True)
        return LocalDataset(dest, "rec", dest / "train.txt", dest / "val.txt", ("0", "1"), store.uri(key))

    import ocrbatch.datasets

    monkeypatch.setattr(ocrbatch.datasets, "fetch_dataset", fake_fetch, raising=False)
    engines = []

    def use(engine):
        engines.append(engine)
        monkeypatch.setattr(run_module, "get_engine", lambda name: engine)

    spec = TrainingSpec(dataset=store.uri("datasets/d/versions/v1"), output=store.uri(layout.prefix))
    return store, layout, spec, use


def test_run_publishes_model_and_progress(harness, tmp_path):
    store, layout, spec, use = harness
    use(FakeEngine())
    assert run_module.run_training(spec, workdir=tmp_path / "w", attempt=1) == 0
    manifest = artifact.read_manifest(store, layout.model)
    assert manifest["metrics"]["accuracy"] == 0.97
    assert {"inference.json", "dict.txt", "config.yml", "metrics.json", "dataset.json"} <= set(manifest["files"])
    progress = json.loads(store.get_bytes(layout.progress))
    assert progress["state"] == "succeeded" and progress["epoch"] == 4


def test_preempted_run_resumes_from_checkpoint(harness, tmp_path):
    store, layout, spec, use = harness
    first = FakeEngine(stop_after=2)
    use(first)
    assert run_module.run_training(spec, workdir=tmp_path / "w1", attempt=1) == run_module.EXIT_PREEMPTED
    assert json.loads(store.get_bytes(layout.progress))["state"] == "interrupted"
    assert not store.exists(layout.model_manifest)

    second = FakeEngine()
    use(second)
    assert run_module.run_training(spec, workdir=tmp_path / "w2", attempt=2) == 0
    assert second.started_from == 2  # lost nothing: resumed after the last checkpointed epoch
    progress = json.loads(store.get_bytes(layout.progress))
    assert progress["attempt"] == 2 and progress["resumed_from"] == {"epoch": 2}


def test_already_published_run_does_not_train_again(harness, tmp_path):
    store, layout, spec, use = harness
    use(FakeEngine())
    assert run_module.run_training(spec, workdir=tmp_path / "w1") == 0
    engine = FakeEngine()
    use(engine)
    assert run_module.run_training(spec, workdir=tmp_path / "w2") == 0
    assert engine.started_from is None


def test_engine_failure_is_reported(harness, tmp_path):
    store, layout, spec, use = harness

    class Broken(FakeEngine):
        def train(self, ctx):
            raise RuntimeError("CUDA out of memory")

    use(Broken())
    assert run_module.run_training(spec, workdir=tmp_path / "w") == 1
    progress = json.loads(store.get_bytes(layout.progress))
    assert progress["state"] == "failed" and "out of memory" in progress["message"]


def test_sigterm_handler_sets_stop_flag():
    import os
    import signal

    stop = threading.Event()
    old = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        run_module.install_signal_handlers(stop)
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(2)
    finally:
        signal.signal(signal.SIGTERM, old[0])
        signal.signal(signal.SIGINT, old[1])


def test_second_close_does_not_wait_again(tmp_path):
    """After SIGTERM the flush timeout is all the time there is; closing twice must not double it."""
    import time

    store = LocalStore(tmp_path / "store")
    release = threading.Event()
    real_put = store.put_file

    def slow_put(key, path):
        release.wait(5)
        real_put(key, path)

    store.put_file = slow_put
    sync = CheckpointSync(store, "runs/r1/checkpoints/", tmp_path / "a")
    write_checkpoint(sync.local_dir, 1)
    sync.announce({"epoch": 1})
    assert sync.close(0.2) is False
    started = time.monotonic()
    assert sync.close(5) is False
    assert time.monotonic() - started < 1
    release.set()


def test_each_attempt_records_the_instance_it_ran_on(harness, tmp_path):
    """The instance's record (ocrbatch.host_facts) lands in progress.json under the attempt's number,
    and a retry keeps the earlier attempts' records: what a run's cost is worked out from."""
    store, layout, spec, use = harness
    hosts = {}
    for attempt, instance_type in ((1, "g4dn.xlarge"), (2, "g5.xlarge")):
        folder = tmp_path / f"host{attempt}"
        folder.mkdir()
        hosts[str(attempt)] = {"instance_id": f"i-{attempt}", "instance_type": instance_type,
                               "availability_zone": "us-west-2a", "lifecycle": "spot"}
        (folder / "instance.json").write_text(json.dumps(hosts[str(attempt)]))
    use(FakeEngine(stop_after=1))
    assert run_module.run_training(spec, workdir=tmp_path / "w1", attempt=1, host_facts_dir=tmp_path / "host1") == 143
    use(FakeEngine())
    assert run_module.run_training(spec, workdir=tmp_path / "w2", attempt=2, host_facts_dir=tmp_path / "host2") == 0
    assert json.loads(store.get_bytes(layout.progress))["hosts"] == hosts


def test_a_run_without_an_instance_record_records_no_host(harness, tmp_path):
    store, layout, spec, use = harness
    use(FakeEngine())
    assert run_module.run_training(spec, workdir=tmp_path / "w", host_facts_dir=tmp_path / "none") == 0
    assert json.loads(store.get_bytes(layout.progress))["hosts"] is None
