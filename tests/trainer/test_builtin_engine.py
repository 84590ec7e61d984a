"""The builtin engine on CPU: it trains on generated crops, exports a model that stock paddleocr reads,
stops with a checkpoint when asked, resumes from the exact step, and refuses bad checkpoints/settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from ocrbatch.errors import BadInput, IntegrityError
from ocrbatch.trainer.engines.base import LocalDataset, Preempted, TrainContext
from ocrbatch.trainer.spec import TrainingSpec

cv2 = pytest.importorskip("cv2")
pytest.importorskip("paddle")

# A small network so a few epochs take seconds on two shared cores.
TINY = {"channels": "8,16,24,32", "hidden_size": "32", "seq_blocks": "1", "batch_size": "16"}


def make_dataset(root: Path, count: int, seed: int) -> LocalDataset:
    from ocrbatch.synth import generate_dataset

    summary = generate_dataset(root, count=count, seed=seed, task="rec", styles=["seg7"], val_fraction=0.2)
    return _local_dataset(root, summary["characters"])


def _local_dataset(root: Path, characters: str) -> LocalDataset:
    return LocalDataset(root=root, task="rec", train_labels=root / "train.txt", val_labels=root / "val.txt",
                        characters=tuple(sorted(characters)), version=f"file://{root}")


class Recorder:
    """Stands in for the orchestrator: records checkpoints and progress, can ask for a stop."""

    def __init__(self, stop_at: tuple[int, int] | None = None):
        self.checkpoints: list[dict] = []
        self.reports: list[dict] = []
        self.stop_at = stop_at
        self.ctx: TrainContext | None = None

    def on_checkpoint(self, info: dict) -> None:
        self.checkpoints.append(info)

    def report(self, **values) -> None:
        self.reports.append(values)
        if self.stop_at and (values["epoch"], values["step"]) == self.stop_at:
            self.ctx.stop_requested.set()


def make_context(tmp: Path, dataset: LocalDataset, recorder: Recorder, run: str = "run", **spec) -> TrainContext:
    overrides = {**TINY, **spec.pop("overrides", {})}
    ctx = TrainContext(
        spec=TrainingSpec(dataset=dataset.version, output=f"file://{tmp}/{run}", overrides=overrides, **spec),
        dataset=dataset,
        workdir=tmp / run / "work",
        checkpoint_dir=tmp / run / "checkpoints",
        export_dir=tmp / run / "export",
        on_checkpoint=recorder.on_checkpoint,
        report=recorder.report,
    )
    recorder.ctx = ctx
    return ctx


def train(ctx: TrainContext):
    from ocrbatch.trainer.engines.builtin import BuiltinEngine

    return BuiltinEngine().train(ctx)


@pytest.fixture(scope="module")
def seg7(tmp_path_factory) -> LocalDataset:
    return make_dataset(tmp_path_factory.mktemp("seg7"), count=200, seed=3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, seg7):
    """One short training run shared by the export/judge tests."""
    tmp = tmp_path_factory.mktemp("trained")
    recorder = Recorder()
    # a budget the three epochs fit in many times over: progress still counts them ("3 of 3")
    result = train(make_context(tmp, seg7, recorder, epochs=3, overrides={"max_train_seconds": "3600"}))
    return result, recorder, recorder.ctx


# ---- training, export and the stock paddleocr judge -------------------------------------------

@pytest.mark.slow
def test_trains_and_exports_a_model_stock_paddleocr_loads(trained, seg7):
    result, recorder, ctx = trained
    export = ctx.export_dir
    for name in ("inference.json", "inference.pdiparams", "inference.yml", "dict.txt"):
        assert (export / name).stat().st_size > 0, name
    config = yaml.safe_load((export / "inference.yml").read_text())
    dictionary = result.dict_file.read_text(encoding="utf-8").splitlines()
    assert config["Global"]["model_name"] == result.model_name == "PP-OCRv5_mobile_rec"
    assert config["PostProcess"] == {"name": "CTCLabelDecode", "character_dict": dictionary}
    assert dictionary == sorted(seg7.characters)
    assert yaml.safe_load(result.config_file.read_text())["settings"]["hidden_size"] == 32

    metrics = result.metrics
    assert metrics["epochs"] == 3 and metrics["train_seconds"] > 0 and metrics["images_per_second"] > 0
    assert metrics["eval_samples"] == len(seg7.val_labels.read_text().splitlines())
    # Stock paddleocr (pads to >= 320 px, its own decoder) agrees with our in-training evaluation.
    assert metrics["accuracy"] == pytest.approx(metrics["val_accuracy_during_training"], abs=0.03)
    assert 0 <= metrics["norm_edit_distance"] <= 1

    assert [c["epoch"] for c in recorder.checkpoints if c["reason"] == "epoch"] == [1, 2, 3]
    assert (ctx.checkpoint_dir / "best.pdparams").exists() and (ctx.checkpoint_dir / "latest.pdopt").exists()
    last = recorder.reports[-1]
    assert {"epoch", "epochs", "step", "steps_per_epoch", "loss", "eta_seconds", "elapsed_seconds"} <= set(last)
    # Progress counts epochs from 1, as PaddleOCR's does: the first step is in epoch 1, a finished run reads 3 of 3.
    assert (recorder.reports[0]["epoch"], recorder.reports[0]["step"]) == (1, 1)
    assert (last["epoch"], last["epochs"], last["step"]) == (3, 3, last["steps_per_epoch"])
    assert last["global_step"] == 3 * last["steps_per_epoch"]


@pytest.mark.slow
def test_the_judge_command_reads_held_out_images(trained, seg7):
    """The exact way users load the model: TextRecognition(model_name, model_dir) in a fresh process."""
    result, _, ctx = trained
    images = [seg7.root / line.split("\t")[0] for line in seg7.val_labels.read_text().splitlines()[:4]]
    script = textwrap.dedent(f"""
        import json
        from paddleocr import TextRecognition
        m = TextRecognition(model_name={result.model_name!r}, model_dir={str(ctx.export_dir)!r})
        out = [m.predict({str(images[0])!r})[0]] + list(m.predict({[str(p) for p in images]!r}, batch_size=4))
        print(json.dumps([[r["rec_text"], float(r["rec_score"])] for r in out]))
    """)
    env = {**os.environ, "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK": "True"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == 5
    assert results[0] == pytest.approx(results[1], abs=1e-4) or results[0][0] == results[1][0]
    for text, score in results:
        assert set(text) <= set(seg7.characters) and 0 <= score <= 1


@pytest.mark.slow
@pytest.mark.parametrize("width_stride, input_height, line_context",
                         [("4", "48", "false"), ("8", "48", "false"), ("4", "32", "false"), ("4", "48", "true")])
def test_an_easy_dataset_is_read_correctly_by_stock_paddleocr(tmp_path, width_stride, input_height, line_context):
    """Clean two-digit numbers: the test is built so that a short run must get them right, with one
    CTC frame per 4 or per 8 pixels, on 48- or 32-row lines (stock paddleocr resizes to the height
    the exported inference.yml names), with or without the line-context block."""
    root = tmp_path / "easy"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, count in (("train", 600), ("val", 60)):
        lines = []
        for i in range(count):
            text = str(rng.integers(10, 100))
            image = np.zeros((40, 26 * len(text) + 12, 3), np.uint8)
            cv2.putText(image, text, (6, 32), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (255, 255, 255), 2)
            cv2.imwrite(str(root / "images" / f"{split}{i}.png"), image)
            lines.append(f"images/{split}{i}.png\t{text}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    dataset = _local_dataset(root, "0123456789")
    overrides = {"width_stride": width_stride, "input_height": input_height, "line_context": line_context}
    # 5 epochs: at 4 the line-context network read 52 of 60 with this seed (60 of 60 with three others)
    result = train(make_context(tmp_path, dataset, Recorder(), epochs=5, overrides=overrides))
    assert result.metrics["accuracy"] >= 0.9, result.metrics
    model = yaml.safe_load(result.config_file.read_text())["model"]
    assert (model["width_stride"], model["input_height"]) == (int(width_stride), int(input_height))
    assert model["line_context"] == (line_context == "true")
    exported = yaml.safe_load((tmp_path / "run" / "export" / "inference.yml").read_text())
    resize = exported["PreProcess"]["transform_ops"][1]
    assert resize == {"RecResizeImg": {"image_shape": [3, int(input_height), 320]}}


@pytest.mark.slow
def test_a_time_budget_ends_training_early_and_a_given_dict_is_used(tmp_path, seg7):
    dict_file = tmp_path / "digits_and_commas.txt"
    dict_file.write_text("".join(f"{c}\n" for c in "9876543210,"))  # no "." on purpose
    recorder = Recorder()
    overrides = {"max_train_seconds": "1", "Global.character_dict_path": str(dict_file)}
    result = train(make_context(tmp_path, seg7, recorder, epochs=200, overrides=overrides))
    assert result.metrics["epochs"] < 200 and result.metrics["epochs_planned"] == 200
    # the budget ends training long before 200 epochs: progress does not promise them
    assert {report["epochs"] for report in recorder.reports} == {None}
    assert result.metrics["skipped_samples"]["train"]["unknown_characters"] > 0  # labels with "."
    exported = yaml.safe_load((recorder.ctx.export_dir / "inference.yml").read_text())
    assert exported["PostProcess"]["character_dict"] == list("9876543210,")
    assert result.dict_file.read_text().splitlines() == list("9876543210,")


@pytest.mark.slow
def test_a_cpu_budget_counts_the_training_threads_cpu_seconds(tmp_path, seg7):
    """budget_clock=cpu: the budget is CPU time of the training thread, so waiting does not use it."""
    import time

    from ocrbatch.trainer.engines.builtin import data

    # Every batch comes later than the whole budget: a wall-clock budget would end after the first
    # step, whatever the machine. (With 50 ms a batch and a 0.3 s budget, a machine that spent 75 ms of
    # CPU a step ran 4 steps, and "more than 6 steps" failed on the machine, not on the engine.)
    delay, budget = 0.3, 0.2
    slow_build = data.BatchStream._build

    def sleepy_build(self, indices, rng):  # a machine so busy that batches come late
        time.sleep(delay)
        return slow_build(self, indices, rng)

    recorder = Recorder()
    overrides = {"max_train_seconds": str(budget), "budget_clock": "cpu", "num_workers": "1"}
    data.BatchStream._build = sleepy_build
    try:
        started = time.monotonic()
        result = train(make_context(tmp_path, seg7, recorder, epochs=200, overrides=overrides))
    finally:
        data.BatchStream._build = slow_build
    assert result.metrics["epochs"] < 200
    assert budget <= result.metrics["train_seconds"] < 1.0
    assert result.metrics["global_step"] >= 2 and time.monotonic() - started > result.metrics["global_step"] * delay


# ---- stop and resume ----------------------------------------------------------------------------

@pytest.mark.slow
def test_a_stopped_run_checkpoints_and_resumes_from_the_same_step(tmp_path, seg7):
    first = Recorder(stop_at=(2, 3))  # progress counts epochs from 1: the 2nd epoch, its 3rd step
    ctx = make_context(tmp_path, seg7, first, epochs=2)
    with pytest.raises(Preempted):
        train(ctx)
    assert first.checkpoints[-1]["reason"] == "stop"
    assert (first.checkpoints[-1]["epoch"], first.checkpoints[-1]["step"]) == (1, 3)
    state = json.loads((ctx.checkpoint_dir / "latest.json").read_text())["state"]
    assert (state["epoch"], state["step"]) == (1, 3)
    assert not (ctx.export_dir / "inference.json").exists()

    second = Recorder()
    result = train(make_context(tmp_path, seg7, second, epochs=2))
    steps_per_epoch = second.reports[0]["steps_per_epoch"]
    assert result.metrics["resumed_from"] == {"epoch": 1, "step": 3}
    assert (second.reports[0]["epoch"], second.reports[0]["step"]) == (2, 4)  # the very next batch
    assert result.metrics["global_step"] == 2 * steps_per_epoch  # nothing trained twice or skipped
    assert result.metrics["epochs"] == 2
    assert (ctx.export_dir / "inference.json").exists()


@pytest.mark.slow
def test_a_run_resumed_after_it_finished_only_exports(tmp_path, seg7):
    recorder = Recorder()
    train(make_context(tmp_path, seg7, recorder, epochs=1))
    again = Recorder()
    result = train(make_context(tmp_path, seg7, again, epochs=1))
    assert result.metrics["resumed_from"] == {"epoch": 1, "step": 0}
    assert again.checkpoints == [] and result.metrics["global_step"] == recorder.reports[0]["steps_per_epoch"]


# ---- bad checkpoints and settings ---------------------------------------------------------------

@pytest.fixture(scope="module")
def one_epoch_checkpoint(tmp_path_factory, seg7) -> Path:
    tmp = tmp_path_factory.mktemp("ckpt")
    ctx = make_context(tmp, seg7, Recorder(), epochs=1)
    train(ctx)
    return ctx.checkpoint_dir


def _copy_checkpoint(source: Path, tmp: Path) -> Path:
    target = tmp / "run" / "checkpoints"
    target.mkdir(parents=True)
    for path in source.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def test_a_truncated_checkpoint_is_a_clear_error(tmp_path, seg7, one_epoch_checkpoint):
    checkpoint_dir = _copy_checkpoint(one_epoch_checkpoint, tmp_path)
    params = checkpoint_dir / "latest.pdparams"
    params.write_bytes(params.read_bytes()[:100])
    with pytest.raises(IntegrityError, match="latest.pdparams"):
        train(make_context(tmp_path, seg7, Recorder(), epochs=2))


def test_an_unreadable_checkpoint_is_a_clear_error(tmp_path, seg7, one_epoch_checkpoint):
    checkpoint_dir = _copy_checkpoint(one_epoch_checkpoint, tmp_path)
    (checkpoint_dir / "latest.json").write_text("{not json")
    with pytest.raises(IntegrityError, match="unreadable"):
        train(make_context(tmp_path, seg7, Recorder(), epochs=2))


def test_a_checkpoint_of_another_model_is_refused(tmp_path, seg7, one_epoch_checkpoint):
    _copy_checkpoint(one_epoch_checkpoint, tmp_path)
    with pytest.raises(BadInput, match="different model settings"):
        train(make_context(tmp_path, seg7, Recorder(), epochs=2, overrides={"hidden_size": "48"}))


def test_a_checkpoint_of_another_character_set_is_refused(tmp_path, seg7, one_epoch_checkpoint):
    _copy_checkpoint(one_epoch_checkpoint, tmp_path)
    wider = LocalDataset(**{**vars(seg7), "characters": tuple(sorted(set(seg7.characters) | {"x"}))})
    with pytest.raises(BadInput, match="different character set"):
        train(make_context(tmp_path, wider, Recorder(), epochs=2))


def test_unknown_overrides_are_refused_before_training(tmp_path, seg7):
    recorder = Recorder()
    with pytest.raises(BadInput, match="does not know override 'Global.use_amp_typo'"):
        train(make_context(tmp_path, seg7, recorder, overrides={"Global.use_amp_typo": "true"}))
    with pytest.raises(BadInput, match="hidden_size"):
        train(make_context(tmp_path, seg7, recorder, overrides={"hidden_size": "many"}))
    with pytest.raises(BadInput, match="budget_clock must be wall or cpu"):
        train(make_context(tmp_path, seg7, recorder, overrides={"budget_clock": "gpu"}))
    with pytest.raises(BadInput, match="width_stride must be 4 or 8"):
        train(make_context(tmp_path, seg7, recorder, overrides={"width_stride": "6"}))
    assert recorder.reports == [] and not (tmp_path / "run" / "checkpoints").exists()


def test_a_malformed_label_file_fails_before_training(tmp_path, seg7):
    root = tmp_path / "bad"
    root.mkdir()
    (root / "train.txt").write_text("images/a.png 123\n")
    (root / "val.txt").write_text("")
    recorder = Recorder()
    with pytest.raises(BadInput, match=r"train.txt:1: expected '<image path><TAB><label>'"):
        train(make_context(tmp_path, _local_dataset(root, "123"), recorder))
    assert recorder.reports == []


# ---- pieces -------------------------------------------------------------------------------------

def test_the_space_is_the_last_class_as_ctc_label_decode_expects():
    from ocrbatch.trainer.engines.builtin.data import Charset

    charset = Charset.from_characters([" ", "1", "0", "1"])
    assert charset.characters == ("1", "0") and charset.num_classes == 4
    assert charset.encode("10 1") == [1, 2, 3, 1] and charset.encode("2") is None
    assert charset.decode(np.array([0, 1, 1, 0, 1, 3, 3, 2, 0])) == "11 0"


def test_batches_are_a_pure_function_of_seed_and_epoch():
    from ocrbatch.trainer.engines.builtin.data import plan_epoch

    widths = np.random.default_rng(1).integers(20, 400, size=1000)
    first = plan_epoch(widths, 32, seed=5, epoch=2)
    assert [b.tolist() for b in first] == [b.tolist() for b in plan_epoch(widths, 32, seed=5, epoch=2)]
    assert sorted(np.concatenate(first).tolist()) == list(range(1000))
    assert [b.tolist() for b in first] != [b.tolist() for b in plan_epoch(widths, 32, seed=5, epoch=3)]
    spread = np.mean([np.ptp(widths[b]) for b in first])
    assert spread < np.ptp(widths) / 4  # grouped by width: little padding


def test_inference_yml_uses_only_ops_the_stock_predictor_knows():
    from paddlex.inference.models.text_recognition.predictor import TextRecRunnerPredictor

    from ocrbatch.trainer.engines.builtin.data import Charset
    from ocrbatch.trainer.engines.builtin.export import inference_config

    config = inference_config("PP-OCRv5_mobile_rec", Charset.from_characters("0123456789,"), 48)
    for op in config["PreProcess"]["transform_ops"]:
        assert next(iter(op)) in TextRecRunnerPredictor._FUNC_MAP
    assert {"DecodeImage": {"channel_first": False, "img_mode": "BGR"}} in config["PreProcess"]["transform_ops"]


def test_optimizer_state_survives_a_process_that_named_its_layers_differently():
    import paddle

    from ocrbatch.trainer.engines.builtin.checkpoints import (
        load_portable_optimizer_state,
        portable_optimizer_state,
    )
    from ocrbatch.trainer.engines.builtin.model import ModelConfig, build

    def model_and_optimizer():
        model = build(ModelConfig(num_classes=5, channels=(4, 4, 4, 4), hidden_size=8, seq_blocks=1))
        return model, paddle.optimizer.AdamW(learning_rate=0.01, parameters=model.parameters())

    model, optimizer = model_and_optimizer()
    model(paddle.randn([2, 3, 48, 32])).mean().backward()
    optimizer.step()
    saved = portable_optimizer_state(model, optimizer)
    assert any(key.startswith("@classifier.weight_") for key in saved)

    build(ModelConfig(num_classes=5))  # shifts Paddle's generated parameter names
    other, other_optimizer = model_and_optimizer()
    assert other.classifier.weight.name != model.classifier.weight.name
    load_portable_optimizer_state(other, other_optimizer, saved)
    restored = other_optimizer.state_dict()
    original = optimizer.state_dict()
    moment = next(k for k in original if k.startswith(model.classifier.weight.name + "_moment1"))
    twin = other.classifier.weight.name + moment[len(model.classifier.weight.name):]
    np.testing.assert_array_equal(restored[twin].numpy(), original[moment].numpy())


def test_the_line_context_sees_the_whole_line_but_not_how_long_its_padding_is():
    """Stock paddleocr pads a line to 320 px, training pads less: the summary (a maximum) must not change
    with the padding's length, while a frame must see what lies far beyond its own receptive field."""
    import paddle

    from ocrbatch.trainer.engines.builtin.model import ModelConfig, build

    paddle.seed(0)
    model = build(ModelConfig(num_classes=5, channels=(4, 4, 4, 4), hidden_size=8, seq_blocks=1, line_context=True))
    for param in model.line_context.out.parameters():  # trained, its output is not the identity's zero
        param.set_value(paddle.randn(param.shape) * 0.5)
    model.eval()
    text = np.random.default_rng(1).uniform(-1, 1, (1, 3, 48, 160)).astype("float32")

    def read(line):
        return model(paddle.to_tensor(line)).numpy()[0]

    short, long = (read(np.pad(text, ((0, 0), (0, 0), (0, 0), (0, pad)))) for pad in (96, 320))
    np.testing.assert_allclose(short[:40], long[:40], rtol=1e-5, atol=1e-5)  # the text's 40 frames
    changed = text.copy()
    changed[..., :16] = -changed[..., :16]  # the line's first 16 px, far from its last frames
    far = read(np.pad(changed, ((0, 0), (0, 0), (0, 0), (0, 96))))
    assert np.abs(far[30:40] - short[30:40]).max() > 1e-3


@pytest.mark.parametrize("width_stride, height, frames", [(4, 48, 80), (8, 48, 40), (4, 32, 80)])
def test_the_model_reads_one_frame_per_width_stride_pixels(width_stride, height, frames):
    import paddle

    from ocrbatch.trainer.engines.builtin.model import ModelConfig, build

    model = build(ModelConfig(num_classes=5, channels=(4, 4, 4, 4), hidden_size=8, seq_blocks=1,
                              width_stride=width_stride, input_height=height))
    assert model(paddle.zeros([2, 3, height, 320])).shape == [2, frames, 5]
