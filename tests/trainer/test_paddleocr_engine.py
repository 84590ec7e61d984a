"""The paddleocr engine's process orchestration, end to end against a fake PaddleOCR checkout
(tests/trainer/fake_paddleocr.py): config and command lines, progress from log lines, checkpoints
mirrored and announced, SIGTERM -> Preempted, resume through Global.checkpoints, export, evaluation."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from ocrbatch.errors import BadInput, RunFailed
from ocrbatch.trainer.engines import get_engine
from ocrbatch.trainer.engines.base import LocalDataset, Preempted, TrainContext
from ocrbatch.trainer import evaluation
from ocrbatch.trainer.engines.paddleocr import PaddleOCREngine
from ocrbatch.trainer.engines.paddleocr.checkpoint_mirror import CheckpointMirror
from ocrbatch.trainer.engines.paddleocr.engine import check_export
from ocrbatch.trainer.spec import TrainingSpec

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
from fake_paddleocr import make_checkout, read_record  # noqa: E402

LABELS = ["1,250,000", "42", "98 760", "7,000,010", "3"]


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_PADDLEOCR_RECORD", str(tmp_path / "record.jsonl"))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0")
    return make_checkout(tmp_path / "PaddleOCR")


class Run:
    """A TrainContext wired to lists, plus what the engine needs around it."""

    def __init__(self, tmp_path: Path, *, task="rec", model=None, epochs=3, overrides=None, use_gpu=False,
                 train_labels=None, name="attempt1"):
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        if task == "rec":
            lines = [f"img/{i}.png\t{text}" for i, text in enumerate(LABELS)]
        else:
            lines = [f'img/{i}.png\t[{{"transcription": "{t}", "points": [[0,0],[9,0],[9,9],[0,9]]}}]'
                     for i, t in enumerate(LABELS)]
        (data / "train.txt").write_text("\n".join(lines if train_labels is None else train_labels) + "\n")
        (data / "val.txt").write_text("\n".join(lines[:2]) + "\n")
        self.announced: list[dict] = []
        self.reports: list[dict] = []
        self.checkpoint_dir = tmp_path / "checkpoints"  # shared by attempts, as after a restore
        self.ctx = TrainContext(
            spec=TrainingSpec(dataset="file:///s/datasets/d/versions/1", output="file:///s/runs/r",
                              engine="paddleocr", task=task, model=model, epochs=epochs,
                              overrides=overrides or {}),
            dataset=LocalDataset(root=data, task=task, train_labels=data / "train.txt",
                                 val_labels=data / "val.txt",
                                 characters=tuple(sorted(set("".join(LABELS)))), version="file:///s/v/1"),
            workdir=tmp_path / name,
            checkpoint_dir=self.checkpoint_dir,
            export_dir=tmp_path / name / "export",
            on_checkpoint=self.announced.append,
            report=lambda **values: self.reports.append(values),
            use_gpu=use_gpu,
        )
        self.ctx.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self.ctx.export_dir.mkdir(parents=True, exist_ok=True)

    def reported(self, key):
        return [r[key] for r in self.reports if key in r]


class FakeEvaluation:
    def __init__(self):
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return {"accuracy": 0.875, "norm_edit_distance": 0.95}


def engine(checkout, tmp_path, **kwargs) -> PaddleOCREngine:
    kwargs.setdefault("evaluate", FakeEvaluation())
    kwargs.setdefault("weights_reachable", lambda url: True)
    return PaddleOCREngine(paddleocr_home=checkout, weights_dir=tmp_path / "weights", poll_interval=0.05,
                           stop_grace=5, **kwargs)


def states_epoch(path: Path) -> int:
    with open(path, "rb") as handle:
        return pickle.load(handle)["epoch"]


def test_registered_under_its_name():
    assert get_engine("paddleocr").name == "paddleocr"


def test_trains_announces_checkpoints_exports_and_evaluates(checkout, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.3")
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "PP-OCRv5_mobile_rec_pretrained.pdparams").write_bytes(b"w")
    run = Run(tmp_path, epochs=3, overrides={"Optimizer.lr.warmup_epoch": "1"})
    evaluate = FakeEvaluation()

    result = engine(checkout, tmp_path, evaluate=evaluate).train(run.ctx)

    # checkpoints: announced in epoch order, ending with the last one; only consistent trios mirrored
    epochs = [info["epoch"] for info in run.announced]
    assert epochs == sorted(set(epochs)) and epochs[-1] == 3
    assert all(info["engine"] == "paddleocr" and info["step"] == 2 * info["epoch"] for info in run.announced)
    assert run.announced[-1]["best"]["acc"] == 1.0
    assert sorted(p.name for p in run.checkpoint_dir.iterdir()) == [
        "best_accuracy.pdopt", "best_accuracy.pdparams", "best_accuracy.states",
        "latest.pdopt", "latest.pdparams", "latest.states",
    ]
    assert states_epoch(run.checkpoint_dir / "latest.states") == 3

    # progress parsed from the log lines
    assert run.reported("epoch")[-1] == 3 and run.reported("epochs")[-1] == 3
    assert run.reported("step")[-1] == 6
    assert run.reported("loss")[-1] == pytest.approx(0.25)
    assert run.reported("eta_seconds")[0] == 93784  # "1 day, 2:03:04"
    assert run.reported("accuracy")[-1] == 1.0 and run.reported("best_accuracy")[-1] == 1.0
    assert run.reported("state") == ["exporting", "evaluating"]

    # the command lines and the config the fake tools actually loaded
    train, export = read_record(tmp_path / "record.jsonl")
    assert train["tool"] == "train.py" and "-o" not in train["argv"]
    assert train["argv"][-2:] == ["-c", str(result.config_file)]
    assert train["pgid"] == train["pid"]  # its own process group
    assert train["Global"]["pretrained_model"] == str(weights / "PP-OCRv5_mobile_rec_pretrained.pdparams")
    assert train["Global"]["checkpoints"] is None
    assert train["Global"]["epoch_num"] == 3
    assert export["tool"] == "export_model.py" and "-o" not in export["argv"]
    assert export["Global"]["pretrained_model"] == str(tmp_path / "attempt1/paddleocr/output/best_accuracy")
    assert export["Global"]["export_with_pir"] is True
    assert export["Global"]["save_inference_dir"] == str(run.ctx.export_dir)

    # export and result
    assert {"inference.json", "inference.pdiparams", "inference.yml"} <= {p.name for p in run.ctx.export_dir.iterdir()}
    inference = yaml.safe_load((run.ctx.export_dir / "inference.yml").read_text())
    assert inference["Global"]["model_name"] == "PP-OCRv5_mobile_rec"
    assert inference["PostProcess"]["character_dict"] == result.dict_file.read_text().splitlines()
    assert " " not in result.dict_file.read_text().splitlines()
    assert result.model_name == "PP-OCRv5_mobile_rec"
    assert result.metrics["accuracy"] == 0.875 and result.metrics["epochs"] == 3
    assert result.metrics["train_seconds"] >= 0 and result.metrics["checkpoint"] == "best_accuracy"
    config = yaml.safe_load(result.config_file.read_text())
    assert config["Optimizer"]["lr"]["warmup_epoch"] == 1
    assert config["Global"]["character_dict_path"] == str(result.dict_file)
    assert evaluate.calls[0]["model_name"] == "PP-OCRv5_mobile_rec"
    assert evaluate.calls[0]["export_dir"] == run.ctx.export_dir


def test_sigterm_preempts_and_the_next_attempt_resumes(checkout, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0.3")
    first = Run(tmp_path, epochs=40)
    outcome: dict = {}

    def train():
        try:
            engine(checkout, tmp_path).train(first.ctx)
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome["error"] = exc

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.monotonic() + 120
    while not first.announced and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
    assert first.announced, "no checkpoint announced"
    first.ctx.stop_requested.set()
    thread.join(60)
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), Preempted)

    (train_run,) = read_record(tmp_path / "record.jsonl")
    with pytest.raises(ProcessLookupError):
        os.kill(train_run["pid"], 0)  # the whole group was ended
    stopped_at = first.announced[-1]["epoch"]
    assert stopped_at < 40
    assert states_epoch(first.checkpoint_dir / "latest.states") == stopped_at

    # a retried attempt (new workdir, restored checkpoint folder) resumes via Global.checkpoints
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0")
    second = Run(tmp_path, epochs=40, name="attempt2")
    result = engine(checkout, tmp_path).train(second.ctx)
    resumed = read_record(tmp_path / "record.jsonl")[1]
    assert resumed["Global"]["checkpoints"] == str(first.checkpoint_dir / "latest")
    assert resumed["Global"]["pretrained_model"] is None
    assert second.reported("epoch")[0] == stopped_at + 1
    assert result.metrics["epochs"] == 40
    assert second.announced[-1]["epoch"] == 40


def test_a_run_resumed_after_its_last_epoch_exports_that_checkpoint(checkout, tmp_path):
    run = Run(tmp_path, epochs=3)
    save(run.checkpoint_dir, "latest", 3)  # restored from the store; training had finished
    result = engine(checkout, tmp_path).train(run.ctx)
    train, export = read_record(tmp_path / "record.jsonl")
    assert train["Global"]["checkpoints"] == str(run.checkpoint_dir / "latest")
    assert export["Global"]["pretrained_model"] == str(run.checkpoint_dir / "latest")
    assert result.metrics["epochs"] == 3 and run.announced == []


def test_several_gpus_train_under_the_distributed_launcher(checkout, tmp_path, monkeypatch):
    calls = tmp_path / "python-calls.jsonl"
    launcher_python = tmp_path / "python"
    launcher_python.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(
            f"""
            import json, os, sys
            args = sys.argv[1:]
            open({str(calls)!r}, "a").write(json.dumps(args) + "\\n")
            if args[:2] == ["-m", "paddle.distributed.launch"]:
                args = args[4:]  # stand in for the launcher: run rank 0 only
            os.execv({sys.executable!r}, [{sys.executable!r}] + args)
            """
        )
    )
    launcher_python.chmod(0o755)
    run = Run(tmp_path, epochs=1, use_gpu=True)
    engine(checkout, tmp_path, gpu_ids=lambda: ["0", "1"], python=str(launcher_python)).train(run.ctx)
    train_call, export_call = [json.loads(line) for line in calls.read_text().splitlines()]
    assert train_call[:4] == ["-m", "paddle.distributed.launch", "--gpus", "0,1"]
    assert train_call[4].endswith("paddleocr/launcher.py") and train_call[5] == str(checkout)
    assert export_call[0].endswith("tools/export_model.py")  # export is a single process
    assert read_record(tmp_path / "record.jsonl")[0]["Global"]["use_gpu"] is True


def test_one_gpu_or_cpu_trains_without_the_launcher(checkout, tmp_path):
    run = Run(tmp_path, epochs=1, use_gpu=False)
    engine(checkout, tmp_path, gpu_ids=lambda: ["0", "1"]).train(run.ctx)  # no GPU in use: ignored
    train = read_record(tmp_path / "record.jsonl")[0]
    assert "paddle.distributed.launch" not in train["argv"]
    assert train["Global"]["use_gpu"] is False


def test_detection_is_evaluated_with_tools_eval(checkout, tmp_path):
    run = Run(tmp_path, task="det", epochs=2)
    result = engine(checkout, tmp_path, evaluate=None).train(run.ctx)
    assert result.model_name == "PP-OCRv5_mobile_det"
    assert result.metrics["hmean"] == pytest.approx(0.7777777777777778)
    assert result.metrics["accuracy"] == result.metrics["hmean"]
    assert result.metrics["precision"] == 0.875 and result.metrics["recall"] == 0.7
    train, export, evaluated = read_record(tmp_path / "record.jsonl")
    assert train["Global"]["model_name"] == "PP-OCRv5_mobile_det"
    assert evaluated["tool"] == "eval.py"
    assert evaluated["Global"]["checkpoints"] == str(tmp_path / "attempt1/paddleocr/output/best_accuracy")
    assert run.reported("accuracy")[-1] == 1.0  # det's main indicator is hmean


def test_exported_model_name_is_made_the_stock_name(checkout, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_EXPORT_MODEL_NAME", "my_finetuned_model")
    run = Run(tmp_path, epochs=1, model="PP-OCRv5_mobile_rec")
    engine(checkout, tmp_path).train(run.ctx)
    inference = yaml.safe_load((run.ctx.export_dir / "inference.yml").read_text())
    assert inference["Global"]["model_name"] == "PP-OCRv5_mobile_rec"
    assert inference["PostProcess"]["name"] == "CTCLabelDecode"


def test_missing_checkout_says_where_the_engine_runs(tmp_path):
    run = Run(tmp_path)
    with pytest.raises(BadInput, match="runs in the training image"):
        PaddleOCREngine(paddleocr_home=tmp_path / "nowhere").train(run.ctx)


def test_model_must_fit_the_task(checkout, tmp_path):
    with pytest.raises(BadInput, match="does not fit task 'rec'"):
        engine(checkout, tmp_path).train(Run(tmp_path, model="PP-OCRv5_mobile_det").ctx)
    with pytest.raises(BadInput, match="no PaddleOCR rec model 'PP-OCRv5_server_rec'.*known rec models: PP-OCRv5_mobile_rec"):
        engine(checkout, tmp_path).train(Run(tmp_path, model="PP-OCRv5_server_rec").ctx)
    assert read_record(tmp_path / "record.jsonl") == []  # nothing started


def test_a_crash_is_one_line_with_the_tools_last_words(checkout, tmp_path):
    run = Run(tmp_path, overrides={"Global.epoch_num": "many"})
    with pytest.raises(RunFailed, match=r"tools/train.py exited with 1: TypeError"):
        engine(checkout, tmp_path).train(run.ctx)


def test_an_empty_train_set_is_not_a_success(checkout, tmp_path):
    run = Run(tmp_path, train_labels=[""])
    with pytest.raises(RunFailed, match="without writing a checkpoint"):
        engine(checkout, tmp_path).train(run.ctx)


# --- pieces -------------------------------------------------------------------------------------


def save(folder: Path, prefix: str, epoch: int) -> None:
    for suffix in (".pdopt", ".pdparams"):
        (folder / f"{prefix}{suffix}").write_bytes(b"x" * epoch)
    with open(folder / f"{prefix}.states", "wb") as handle:
        pickle.dump({"epoch": epoch, "global_step": 10 * epoch, "best_model_dict": {"acc": 0.5}}, handle)


def test_mirror_waits_for_a_settled_complete_trio(tmp_path):
    source, target = tmp_path / "out", tmp_path / "ckpt"
    source.mkdir()
    announced = []
    mirror = CheckpointMirror(source, target, announced.append)
    assert not mirror.poll()  # nothing yet
    save(source, "latest", 1)
    assert not mirror.poll()  # seen once
    assert mirror.poll()  # unchanged since: complete
    assert not mirror.poll()  # announced once only
    assert announced == [{"engine": "paddleocr", "epoch": 1, "step": 10, "global_step": 10, "best": {"acc": 0.5}}]

    # a new save under way (.pdopt rewritten after .states) is not a checkpoint
    time.sleep(0.01)
    (source / "latest.pdopt").write_bytes(b"y" * 7)
    assert not mirror.poll(settled=True)
    # a .states cut short by a kill never replaces the good checkpoint
    time.sleep(0.01)
    (source / "latest.pdparams").write_bytes(b"y" * 7)
    (source / "latest.states").write_bytes(b"\x80\x02}q")
    assert not mirror.poll(settled=True)
    assert states_epoch(target / "latest.states") == 1
    assert (target / "latest.pdopt").read_bytes() == b"x"
    assert not [p for p in target.iterdir() if p.name.startswith(".tmp")]
    assert len(announced) == 1


def test_check_export_requires_the_inference_files(tmp_path):
    with pytest.raises(RunFailed, match="inference.pdiparams, inference.yml, inference.json or inference.pdmodel"):
        check_export(tmp_path, "PP-OCRv5_mobile_rec")
    (tmp_path / "inference.pdmodel").write_text("old IR is accepted")
    (tmp_path / "inference.pdiparams").write_bytes(b"w")
    (tmp_path / "inference.yml").write_text("Global:\n  pdx_model_name: x\nPostProcess:\n  name: CTCLabelDecode\n")
    check_export(tmp_path, "PP-OCRv5_server_rec")
    assert yaml.safe_load((tmp_path / "inference.yml").read_text())["Global"] == {"model_name": "PP-OCRv5_server_rec"}


def test_recognition_metrics():
    assert evaluation.edit_distance("1,250,000", "1,250,000") == 0
    assert evaluation.edit_distance("1250000", "1,250,000") == 2
    assert evaluation.edit_distance("", "42") == 2
    metrics = evaluation.text_metrics(["42", "1250000", ""], ["42", "1,250,000", "7"])
    assert metrics["accuracy"] == pytest.approx(1 / 3)
    assert metrics["norm_edit_distance"] == pytest.approx((0 + 2 / 9 + 1) / 3)  # a distance: 0 is perfect


def test_recognizer_is_evaluated_with_stock_text_recognition(tmp_path, monkeypatch):
    import paddleocr

    created = {}

    class FakeTextRecognition:
        def __init__(self, **kwargs):
            created.update(kwargs)

        def predict(self, inputs, batch_size):
            return [{"rec_text": "42", "rec_score": 0.9} if path.endswith("0.png") else {"rec_text": "?", "rec_score": 0.4}
                    for path in inputs]

    monkeypatch.setattr(paddleocr, "TextRecognition", FakeTextRecognition)
    (tmp_path / "val.txt").write_text("img/0.png\t42\nimg/1.png\t7\n")
    args = argparse.Namespace(model_name="PP-OCRv5_mobile_rec", model_dir=str(tmp_path / "export"),
                              labels=str(tmp_path / "val.txt"), root=str(tmp_path), device="cpu", batch_size=32,
                              findings=str(tmp_path / "evaluation.json"))
    metrics = evaluation.evaluate_in_this_process(args)
    assert created == {"model_name": "PP-OCRv5_mobile_rec", "model_dir": str(tmp_path / "export"), "device": "cpu"}
    assert (metrics["accuracy"], metrics["norm_edit_distance"], metrics["samples"]) == (0.5, 0.5, 2)
    # What the run's page shows of it: the mistake, by the image's path, with its score (no crop: no image file).
    found = json.loads((tmp_path / "evaluation.json").read_text())
    assert found["mistakes"] == [{"path": "img/1.png", "image": None, "truth": "7", "prediction": "?",
                                  "score": 0.4, "edit_distance": 1}]


# --- through the trainer's orchestration (run_training): upload, resume, publish -----------------


def test_run_training_with_the_paddleocr_engine_resumes_and_publishes(checkout, tmp_path, monkeypatch):
    from ocrbatch import artifact
    from ocrbatch.layout import RunLayout
    from ocrbatch.storage import LocalStore
    from ocrbatch.trainer import run as run_module

    import ocrbatch.datasets

    store, layout = LocalStore(tmp_path / "store"), RunLayout("run-1")
    dataset = Run(tmp_path, epochs=6).ctx.dataset
    monkeypatch.setattr(ocrbatch.datasets, "fetch_dataset", lambda *_args, **_kw: dataset)
    monkeypatch.setattr(evaluation, "stock_paddleocr_metrics", lambda *a, **k: {"accuracy": 0.9, "norm_edit_distance": 0.03})
    monkeypatch.setenv("PADDLEOCR_HOME", str(checkout))
    monkeypatch.setenv("PADDLEOCR_WEIGHTS", str(tmp_path / "weights"))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "PP-OCRv5_mobile_rec_pretrained.pdparams").write_bytes(b"w")
    # Longer than two checkpoint polls (1 s each), so an epoch's trio settles and is uploaded mid-run.
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "2.5")
    spec = TrainingSpec(dataset=store.uri("datasets/d/versions/v1"), output=store.uri(layout.prefix),
                        engine="paddleocr", epochs=6)

    stop = threading.Event()

    def stop_after_first_upload():
        while not stop.is_set():
            if store.exists(layout.checkpoints + "current.json"):
                stop.set()
            time.sleep(0.05)

    watcher = threading.Thread(target=stop_after_first_upload)
    watcher.start()
    code = run_module.run_training(spec, workdir=tmp_path / "w1", stop_event=stop, attempt=1)
    stop.set()
    watcher.join()
    assert code == run_module.EXIT_PREEMPTED
    pointer = json.loads(store.get_bytes(layout.checkpoints + "current.json"))
    assert set(pointer["files"]) <= {f"{p}{s}" for p in ("latest", "best_accuracy") for s in (".pdparams", ".pdopt", ".states")}
    assert {"latest.pdparams", "latest.pdopt", "latest.states"} <= set(pointer["files"])
    saved_epoch = pointer["info"]["epoch"]

    # Count what the first attempt ran (its train, and under heavy load possibly its export too).
    first_attempt_runs = len(read_record(tmp_path / "record.jsonl"))
    monkeypatch.setenv("FAKE_EPOCH_SECONDS", "0")
    assert run_module.run_training(spec, workdir=tmp_path / "w2", attempt=2) == 0
    resumed = read_record(tmp_path / "record.jsonl")[first_attempt_runs]
    assert resumed["tool"] == "train.py"
    assert resumed["Global"]["checkpoints"] == str(tmp_path / "w2" / "checkpoints" / "latest")
    manifest = artifact.read_manifest(store, layout.model)
    assert manifest["model_name"] == "PP-OCRv5_mobile_rec"
    assert manifest["metrics"]["accuracy"] == 0.9 and manifest["metrics"]["epochs"] == 6
    assert {"inference.json", "inference.pdiparams", "inference.yml", "dict.txt", "config.yml"} <= set(manifest["files"])
    progress = json.loads(store.get_bytes(layout.progress))
    assert progress["state"] == "succeeded" and progress["resumed_from"]["epoch"] == saved_epoch


# --- pretrained weights ---------------------------------------------------------------------------


def test_missing_and_unreachable_weights_fail_before_training(checkout, tmp_path):
    asked = []
    run = Run(tmp_path)
    with pytest.raises(BadInput) as failure:
        engine(checkout, tmp_path, weights_reachable=lambda url: asked.append(url) or False).train(run.ctx)
    message = str(failure.value)
    assert "\n" not in message
    assert "PP-OCRv5_mobile_rec_pretrained.pdparams" in message and str(tmp_path / "weights") in message
    assert "--from-scratch" in message
    assert asked == ["https://paddle-model-ecology.bj.bcebos.com/paddlex/official_pretrained_model/"
                     "PP-OCRv5_mobile_rec_pretrained.pdparams"]
    assert read_record(tmp_path / "record.jsonl") == []  # nothing started


def test_reachable_weights_are_left_to_paddleocr_to_download(checkout, tmp_path):
    run = Run(tmp_path, epochs=1)
    engine(checkout, tmp_path, weights_reachable=lambda url: True).train(run.ctx)
    (train, _) = read_record(tmp_path / "record.jsonl")
    assert train["Global"]["pretrained_model"].startswith("https://")


def test_from_scratch_and_resumes_need_no_weights(checkout, tmp_path):
    unreachable = dict(weights_reachable=lambda url: pytest.fail("weights looked up"))
    run = Run(tmp_path, epochs=1)
    run.ctx.spec = TrainingSpec(**{**run.ctx.spec.to_json(), "from_scratch": True})
    engine(checkout, tmp_path, **unreachable).train(run.ctx)
    assert read_record(tmp_path / "record.jsonl")[0]["Global"]["pretrained_model"] is None

    resumed = Run(tmp_path, epochs=2, name="attempt2")  # same checkpoint folder: latest from the run above
    engine(checkout, tmp_path, **unreachable).train(resumed.ctx)
    assert read_record(tmp_path / "record.jsonl")[2]["Global"]["checkpoints"] == str(run.checkpoint_dir / "latest")


def test_from_scratch_travels_from_submit_to_the_trainer():
    spec = TrainingSpec(dataset="file:///d", output="file:///r", engine="paddleocr", from_scratch=True)
    assert spec.to_env()["OCRBATCH_FROM_SCRATCH"] == "True"
    assert TrainingSpec.from_env(spec.to_env()).from_scratch is True
    assert "OCRBATCH_FROM_SCRATCH" not in TrainingSpec(dataset="file:///d", output="file:///r").to_env()
    with pytest.raises(BadInput, match="OCRBATCH_FROM_SCRATCH"):
        TrainingSpec.from_env({"OCRBATCH_DATASET": "d", "OCRBATCH_OUTPUT": "o", "OCRBATCH_FROM_SCRATCH": "maybe"})
