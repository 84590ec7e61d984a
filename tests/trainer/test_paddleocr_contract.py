"""The PaddleOCR contract module against PADDLEOCR_CONTRACT.md: config generation, command lines,
checkpoint layout and resume rule, log parsing. Base configs are our own fixtures that mirror the
documented PP-OCRv5 structure (tests/trainer/fake_paddleocr.py)."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ocrbatch.errors import BadInput
from ocrbatch.trainer.engines.paddleocr import contract, log_lines

sys.path.insert(0, str(Path(__file__).parent))  # pytest runs with --import-mode=importlib
from fake_paddleocr import DET_CONFIG, REC_CONFIG, make_checkout  # noqa: E402


def crops(data_dir: Path, sizes: dict[str, tuple[int, int]], lines: list[str] | None = None) -> Path:
    """Blank crops of these sizes by name, and a train.txt naming them (or ``lines``)."""
    from PIL import Image

    data_dir.mkdir(parents=True, exist_ok=True)
    for name, size in sizes.items():
        Image.new("RGB", size).save(data_dir / name)
    labels = data_dir / "train.txt"
    labels.write_text("".join(line + "\n" for line in lines or [f"{name}\t12" for name in sizes]), encoding="utf-8")
    return labels


def inputs(tmp_path: Path, model="PP-OCRv5_mobile_rec", **changes) -> contract.ConfigInputs:
    if not (tmp_path / "data" / "train.txt").exists():
        crops(tmp_path / "data", {"a.png": (96, 48)})
    values = dict(
        model=model,
        data_dir=tmp_path / "data",
        train_labels=tmp_path / "data" / "train.txt",
        val_labels=tmp_path / "data" / "val.txt",
        dict_file=tmp_path / "dict.txt",
        save_model_dir=tmp_path / "output",
        pretrained_model="/opt/weights/PP-OCRv5_mobile_rec_pretrained.pdparams",
    )
    values.update(changes)
    return contract.ConfigInputs(**values)


def rec(tmp_path, **changes) -> contract.TrainingConfig:
    return contract.generate_config(contract.TrainingConfig(REC_CONFIG), inputs(tmp_path, **changes))


def det(tmp_path, **changes) -> contract.TrainingConfig:
    changes.setdefault("pretrained_model", "/opt/weights/PP-OCRv5_mobile_det_pretrained.pdparams")
    return contract.generate_config(
        contract.TrainingConfig(DET_CONFIG), inputs(tmp_path, model="PP-OCRv5_mobile_det", **changes)
    )


def as_paddleocr_reads_it(config: contract.TrainingConfig) -> dict:
    """PaddleOCR loads configs with the full (YAML 1.1) yaml.Loader."""
    return yaml.load(config.dump(), Loader=yaml.Loader)


# --- where things are ---------------------------------------------------------------------------


def test_base_config_path_per_model_and_task(tmp_path):
    home = make_checkout(tmp_path / "PaddleOCR")
    assert contract.base_config_path(home, "PP-OCRv5_mobile_rec") == (
        home / "configs/rec/PP-OCRv5/PP-OCRv5_mobile_rec.yml"
    )
    assert contract.base_config_path(home, "PP-OCRv5_mobile_det") == (
        home / "configs/det/PP-OCRv5/PP-OCRv5_mobile_det.yml"
    )
    with pytest.raises(BadInput, match="PP-OCRv5_tiny_rec.*known rec models: PP-OCRv5_mobile_rec$"):
        contract.base_config_path(home, "PP-OCRv5_tiny_rec")
    with pytest.raises(BadInput, match="neither"):
        contract.base_config_path(home, "PP-OCRv5_mobile")


def test_defaults_are_the_pp_ocrv5_mobile_models():
    assert contract.DEFAULT_MODELS == {"rec": "PP-OCRv5_mobile_rec", "det": "PP-OCRv5_mobile_det"}
    assert {contract.model_task(m) for m in contract.DEFAULT_MODELS.values()} == {"rec", "det"}


def test_pretrained_weights_prefer_the_image_copy_then_the_official_url(tmp_path):
    assert contract.pretrained_weights(tmp_path, "PP-OCRv5_server_rec") == (
        "https://paddle-model-ecology.bj.bcebos.com/paddlex/official_pretrained_model/"
        "PP-OCRv5_server_rec_pretrained.pdparams"
    )
    local = tmp_path / "PP-OCRv5_server_rec_pretrained.pdparams"
    local.write_bytes(b"w")
    assert contract.pretrained_weights(tmp_path, "PP-OCRv5_server_rec") == str(local)


# --- resume rule and checkpoint layout ----------------------------------------------------------


def test_resume_uses_checkpoints_prefix_when_latest_pdparams_exists(tmp_path):
    fresh = contract.resume_settings(tmp_path, "/w/model.pdparams")
    assert fresh == {"checkpoints": None, "pretrained_model": "/w/model.pdparams"}
    (tmp_path / "latest.pdparams").write_bytes(b"p")
    resumed = contract.resume_settings(tmp_path, "/w/model.pdparams")
    # the prefix without extension, and pretrained_model cleared (checkpoints wins anyway)
    assert resumed == {"checkpoints": str(tmp_path / "latest"), "pretrained_model": None}


def test_checkpoint_prefix_needs_the_whole_trio(tmp_path):
    for suffix in (".pdparams", ".pdopt"):
        (tmp_path / f"latest{suffix}").write_bytes(b"x")
    assert contract.checkpoint_prefix(tmp_path, "latest") is None
    (tmp_path / "latest.states").write_bytes(b"x")
    assert contract.checkpoint_prefix(tmp_path, "latest") == tmp_path / "latest"


# --- config generation --------------------------------------------------------------------------


def test_rec_config_points_at_the_dataset_dict_and_output(tmp_path):
    config = rec(tmp_path)
    g = config.data["Global"]
    assert g["model_name"] == "PP-OCRv5_mobile_rec"
    assert g["character_dict_path"] == str(tmp_path / "dict.txt")
    assert g["use_space_char"] is True
    assert g["save_model_dir"] == str(tmp_path / "output")
    assert g["pretrained_model"] == "/opt/weights/PP-OCRv5_mobile_rec_pretrained.pdparams"
    assert g["checkpoints"] is None
    assert g["use_gpu"] is False
    assert g["save_epoch_step"] > 10**5  # no iter_epoch_N copies
    assert g["eval_batch_epoch"] == 1
    for section, labels in (("Train", tmp_path / "data" / "train.txt"), ("Eval", tmp_path / "data" / "val.txt")):
        assert config.get(f"{section}.dataset.data_dir") == str(tmp_path / "data")
        assert config.get(f"{section}.dataset.label_file_list") == [str(labels)]
    # untouched parts of the base survive
    assert config.get("Architecture.Backbone.name") == "PPLCNetV3"
    assert config.get("Eval.dataset.transforms")[1] == {"RecResizeImg": {"image_shape": [3, 48, 320]}}


def test_rec_batch_size_goes_to_the_sampler_and_its_anchor(tmp_path):
    config = rec(tmp_path, batch_size=24)
    assert contract.batch_size_key(config) == "Train.sampler.first_bs"
    assert config.get("Train.sampler.first_bs") == 24
    assert config.get("Train.loader.batch_size_per_card") == 24  # *bs alias follows
    assert config.get("Eval.loader.batch_size_per_card") == 128  # not linked


def test_det_batch_size_goes_to_the_loader(tmp_path):
    config = det(tmp_path, batch_size=4)
    assert config.get("Train.loader.batch_size_per_card") == 4
    assert "sampler" not in config.data["Train"]


def test_epochs_and_learning_rate(tmp_path):
    config = rec(tmp_path, epochs=7, learning_rate=0.002)
    assert config.get("Global.epoch_num") == 7
    assert config.get("Optimizer.lr.learning_rate") == 0.002
    assert config.get("Optimizer.lr.warmup_epoch") == 5
    # det: epoch_num is an anchor feeding the border/shrink map schedules
    config = det(tmp_path, epochs=30)
    transforms = config.get("Train.dataset.transforms")
    assert config.get("Global.epoch_num") == 30
    assert transforms[2]["MakeBorderMap"]["total_epoch"] == 30
    assert transforms[3]["MakeShrinkMap"]["total_epoch"] == 30


def test_max_text_length_grows_with_the_dataset_through_its_anchor(tmp_path):
    config = rec(tmp_path, max_text_length=40)
    assert config.get("Global.max_text_length") == 40
    assert config.get("Architecture.Head.head_list")[1]["NRTRHead"]["max_text_length"] == 40
    assert config.get("Train.dataset.transforms")[1]["RecConAug"]["max_text_length"] == 40
    # shorter labels keep the pretrained model's length
    assert rec(tmp_path, max_text_length=12).get("Global.max_text_length") == 25


def test_workers_are_capped_to_the_cpus(tmp_path):
    config = rec(tmp_path, num_workers=2, use_gpu=True)
    assert config.get("Train.loader.num_workers") == 2
    assert config.get("Eval.loader.num_workers") == 2
    config = rec(tmp_path, num_workers=64, use_gpu=True)
    assert config.get("Train.loader.num_workers") == 8


def test_cpu_training_leaves_a_core_to_the_trainer_and_trains_one_branch(tmp_path):
    (tmp_path / "PaddleOCR").mkdir()
    on_cpu = rec(tmp_path, num_workers=2)
    assert on_cpu.get("Train.loader.num_workers") == 1 and on_cpu.get("Eval.loader.num_workers") == 1
    assert on_cpu.get("Architecture.Backbone.conv_kxk_num") == 1  # pretrained weights are folded into it
    assert on_cpu.get("ocrbatch.cpu_threads") is None  # paddle's one thread; the launcher applies a setting
    assert rec(tmp_path, num_workers=2, overrides=(("ocrbatch.cpu_threads", "2"),)).get("ocrbatch.cpu_threads") == 2
    assert det(tmp_path, num_workers=2).get("Architecture.Backbone.conv_kxk_num") == 1
    assert rec(tmp_path, num_workers=2, use_gpu=True).get("Architecture.Backbone.conv_kxk_num") is None
    overridden = rec(tmp_path, num_workers=2,
                     overrides=(("Architecture.Backbone.conv_kxk_num", "4"), ("Train.loader.num_workers", "3")))
    assert overridden.get("Architecture.Backbone.conv_kxk_num") == 4 and overridden.get("Train.loader.num_workers") == 3


def test_batching_by_width_is_a_choice_that_gets_sizes_in_a_label_file_of_its_own(tmp_path):
    train = crops(tmp_path / "data", {"short.png": (60, 30), "wide.png": (400, 40)},
                  lines=["short.png\t12", "", "wide.png\t1,234", "gone.png\t7"])
    assert not rec(tmp_path, num_workers=2).get("Train.dataset.ds_width")  # padded to full width by default
    assert rec(tmp_path, num_workers=2).get("Train.dataset.label_file_list") == [str(train)]
    for use_gpu in (False, True):
        config = rec(tmp_path, num_workers=2, use_gpu=use_gpu, overrides=(("Train.dataset.ds_width", "true"),))
        sized = Path(config.get("Train.dataset.label_file_list")[0])
        assert sized.parent == tmp_path and sized != train
        # PaddleOCR's wh_aware reads name, label, w, h; a crop it cannot read is batched with the widest
        assert sized.read_text(encoding="utf-8").splitlines() == [
            "short.png\t12\t60\t30", "wide.png\t1,234\t400\t40", "gone.png\t7\t10000\t1"]
        assert config.get("Eval.dataset.label_file_list") == [str(tmp_path / "data" / "val.txt")]
    assert train.read_text(encoding="utf-8").count("\n") == 4  # the dataset's own file is left alone
    assert not det(tmp_path, num_workers=2).has("Train.dataset.ds_width")


def test_resume_config_sets_checkpoints_and_clears_pretrained(tmp_path):
    config = rec(tmp_path, checkpoints=str(tmp_path / "ckpt" / "latest"), pretrained_model=None)
    read = as_paddleocr_reads_it(config)["Global"]
    assert read["checkpoints"] == str(tmp_path / "ckpt" / "latest")
    assert read["pretrained_model"] is None  # null, never the string "None" (issue #14248)


def test_det_eval_resize_is_limited_but_an_explicit_one_is_kept(tmp_path):
    config = det(tmp_path)
    assert config.get("Eval.dataset.transforms")[1] == {
        "DetResizeForTest": {"limit_side_len": 960, "limit_type": "max"}
    }
    assert "use_space_char" not in config.data["Global"]
    explicit = DET_CONFIG.replace("      - DetResizeForTest:\n", "      - DetResizeForTest:\n          resize_long: 640\n")
    config = contract.generate_config(
        contract.TrainingConfig(explicit), inputs(tmp_path, model="PP-OCRv5_mobile_det")
    )
    assert config.get("Eval.dataset.transforms")[1] == {"DetResizeForTest": {"resize_long": 640}}


# --- user overrides -----------------------------------------------------------------------------


def test_overrides_reach_nested_keys_and_win(tmp_path):
    config = rec(
        tmp_path,
        batch_size=24,
        overrides=(
            ("Optimizer.lr.warmup_epoch", "1"),
            ("Global.use_amp", "true"),  # a new last key is created
            ("Global.eval_batch_epoch", "3"),  # ours, overridden
            ("Train.sampler.first_bs", "32"),  # wins over batch_size, through the anchor
            ("Global.eval_batch_step", "[0, 500]"),
            ("Train.dataset.transforms.1.RecConAug.prob", "0.25"),  # list items by index
            ("Train.loader.use_shared_memory", "false"),
        ),
    )
    assert config.get("Optimizer.lr.warmup_epoch") == 1
    assert config.get("Global.use_amp") is True
    assert config.get("Global.eval_batch_epoch") == 3
    assert config.get("Train.sampler.first_bs") == 32
    assert config.get("Train.loader.batch_size_per_card") == 32
    assert config.get("Global.eval_batch_step") == [0, 500]
    assert config.get("Train.dataset.transforms")[1]["RecConAug"]["prob"] == 0.25
    assert config.get("Train.loader.use_shared_memory") is False


@pytest.mark.parametrize(
    "key, message",
    [
        ("Globl.use_amp", "'Globl' does not exist"),  # the first key must exist
        ("Optimizer.schedule.learning_rate", "'Optimizer.schedule' does not exist"),  # intermediate too
        ("NewSection", "does not exist"),  # no new top-level sections
        ("Train.dataset.transforms.9.RecAug", "'Train.dataset.transforms.9' does not exist"),
        ("Global..use_amp", "must look like"),
        ("Global.epoch_num.x", "parent is a value"),
    ],
)
def test_bad_override_keys_are_one_line_errors(tmp_path, key, message):
    with pytest.raises(BadInput, match=message):
        rec(tmp_path, overrides=((key, "1"),))


@pytest.mark.parametrize("key", ["Global.save_model_dir", "Global.checkpoints", "Train.dataset.label_file_list"])
def test_keys_the_engine_relies_on_cannot_be_overridden(tmp_path, key):
    with pytest.raises(BadInput, match="set by the paddleocr engine"):
        rec(tmp_path, overrides=((key, "x"),))


@pytest.mark.parametrize(
    "raw, value",
    [
        ("1e-3", 0.001),  # YAML 1.1 would keep this a string
        ("5E-4", 0.0005),
        ("0.0005", 0.0005),
        ("3", 3),
        ("true", True),
        ("None", None),  # PaddleOCR would keep the string "None"
        ("null", None),
        ("", None),
        ("[3, 48, 320]", [3, 48, 320]),
        ("['a.txt', 'b.txt']", ["a.txt", "b.txt"]),
        ("./out/a=b.txt", "./out/a=b.txt"),  # '=' is fine: no -o splitting
        ("inf", "inf"),
        ("bfloat16", "bfloat16"),
    ],
)
def test_override_values_are_parsed_safely(raw, value):
    assert contract.parse_value(raw) == value
    assert type(contract.parse_value(raw)) is type(value)


def test_written_config_reads_back_identically_with_paddleocrs_loader(tmp_path):
    config = rec(
        tmp_path,
        learning_rate=1e-5,
        data_dir=tmp_path / "data #1: odd",
        overrides=(("Optimizer.regularizer.factor", "1e-6"), ("Global.infer_img", "yes")),
    )
    path = config.write(tmp_path / "run" / "config.yml")
    read = yaml.load(path.read_text(), Loader=yaml.Loader)
    assert read == config.data
    assert read["Optimizer"]["lr"]["learning_rate"] == 1e-5
    assert isinstance(read["Optimizer"]["regularizer"]["factor"], float)
    assert read["Train"]["dataset"]["data_dir"] == str(tmp_path / "data #1: odd")
    assert read["Global"]["infer_img"] is True  # what the user's "yes" means to YAML 1.1, kept as such
    assert "None" not in path.read_text()


def test_linked_paths_find_every_alias_of_an_anchor():
    groups = contract.linked_paths(REC_CONFIG)
    assert {
        ("Global", "max_text_length"),
        ("Architecture", "Head", "head_list", 1, "NRTRHead", "max_text_length"),
        ("Train", "dataset", "transforms", 1, "RecConAug", "max_text_length"),
    } in groups
    assert {("Train", "sampler", "first_bs"), ("Train", "loader", "batch_size_per_card")} in groups
    assert len(groups) == 2


def test_not_a_paddleocr_config():
    with pytest.raises(BadInput, match="no Global section"):
        contract.TrainingConfig("Train: {}\n", source="x.yml")
    with pytest.raises(BadInput, match="not valid YAML"):
        contract.TrainingConfig("Global: [\n", source="x.yml")


def test_export_and_eval_configs_derive_from_the_training_config(tmp_path):
    config = rec(tmp_path, checkpoints=str(tmp_path / "latest"), pretrained_model=None)
    exporting = contract.export_config(config, tmp_path / "output" / "best_accuracy", tmp_path / "export")
    assert exporting.get("Global.pretrained_model") == str(tmp_path / "output" / "best_accuracy")
    assert exporting.get("Global.checkpoints") is None
    assert exporting.get("Global.save_inference_dir") == str(tmp_path / "export")
    assert exporting.get("Global.export_with_pir") is True
    assert exporting.get("Global.character_dict_path") == str(tmp_path / "dict.txt")
    evaluating = contract.eval_config(config, tmp_path / "output" / "best_accuracy")
    assert evaluating.get("Global.checkpoints") == str(tmp_path / "output" / "best_accuracy")
    # the training config itself is unchanged
    assert config.get("Global.checkpoints") == str(tmp_path / "latest")
    assert config.get("Global.save_inference_dir") is None


def test_dict_file_leaves_the_space_to_use_space_char(tmp_path):
    path = contract.write_dict(("0", "1", " ", ",", "A"), tmp_path / "d" / "dict.txt")
    assert path.read_text(encoding="utf-8") == "0\n1\n,\nA\n"
    with pytest.raises(BadInput, match="no characters"):
        contract.write_dict((" ",), tmp_path / "empty.txt")


# --- command lines ------------------------------------------------------------------------------


def test_train_command_single_and_multi_gpu(tmp_path):
    home, config = Path("/opt/PaddleOCR"), tmp_path / "config.yml"
    launcher = str(Path(contract.__file__).with_name("launcher.py"))
    single = contract.tool_command(home, "train", config, gpu_ids=["0"], python="python3")
    assert single == ["python3", launcher, "/opt/PaddleOCR", "-c", str(config)]
    multi = contract.tool_command(home, "train", config, gpu_ids=["0", "1", "2", "3"], python="python3")
    assert multi == [
        "python3", "-m", "paddle.distributed.launch", "--gpus", "0,1,2,3",
        launcher, "/opt/PaddleOCR", "-c", str(config),
    ]
    exporting = contract.tool_command(home, "export_model", config, python="python3")
    assert exporting == ["python3", "/opt/PaddleOCR/tools/export_model.py", "-c", str(config)]
    for command in (single, multi, exporting):
        assert command.count("-o") <= 1  # at most one override group; we need none at all
        assert "-o" not in command


@pytest.mark.parametrize(
    "environ, smi, expected",
    [
        ({"CUDA_VISIBLE_DEVICES": "2,3"}, "", ["2", "3"]),
        ({"CUDA_VISIBLE_DEVICES": "0"}, "", ["0"]),
        ({"CUDA_VISIBLE_DEVICES": ""}, "GPU 0: A10G (UUID: x)", []),
        ({"CUDA_VISIBLE_DEVICES": "-1"}, "", []),
        ({}, "GPU 0: NVIDIA A10G (UUID: GPU-1)\nGPU 1: NVIDIA A10G (UUID: GPU-2)\n", ["0", "1"]),
        ({}, "", []),
        ({}, "NVIDIA-SMI has failed because it couldn't communicate with the driver", []),
    ],
)
def test_visible_gpus(environ, smi, expected):
    assert contract.visible_gpus(environ, lambda: smi) == expected


# --- log lines ----------------------------------------------------------------------------------

PREFIX = "[2026/11/29 18:40:00] ppocr INFO: "
STEP_LINE = (
    PREFIX + "epoch: [3/75], global_step: 120, lr: 0.000500, acc: 0.312500, norm_edit_dis: 0.801234, "
    "CTCLoss: 2.345678, NRTRLoss: 1.234567, loss: 3.580245, avg_reader_cost: 0.01234 s, "
    "avg_batch_cost: 0.45678 s, avg_samples: 128.0, ips: 280.22 samples/s, eta: 1 day, 2:03:04, "
    "max_mem_reserved: 10240 MB, max_mem_allocated: 9876 MB"
)


def test_step_line_is_parsed():
    event = log_lines.parse_log_line(STEP_LINE)
    assert event.kind == "step"
    assert event.values["epoch"] == 3 and event.values["epochs"] == 75
    assert event.values["global_step"] == 120
    assert event.values["stats"] == {
        "lr": 0.0005, "acc": 0.3125, "norm_edit_dis": 0.801234,
        "CTCLoss": 2.345678, "NRTRLoss": 1.234567, "loss": 3.580245,
    }
    assert event.values["eta_seconds"] == 86400 + 2 * 3600 + 3 * 60 + 4
    assert log_lines.progress_values(event, "rec") == {
        "epoch": 3, "epochs": 75, "step": 120, "global_step": 120, "loss": 3.580245, "eta_seconds": 93784.0,
    }


def test_step_line_variants():
    # CPU build: no max_mem fields; short eta; logger named root
    line = (
        "[2026/11/29 18:40:00] root INFO: epoch: [1/2], global_step: 10, lr: 0.001000, loss: 0.500000, "
        "avg_reader_cost: 0.1 s, avg_batch_cost: 0.2 s, avg_samples: 8.0, ips: 40.0 samples/s, eta: 0:00:07"
    )
    event = log_lines.parse_log_line(line)
    assert event.values["eta_seconds"] == 7
    assert event.values["stats"]["loss"] == 0.5
    # older PaddleOCR: iter / reader_cost, no eta
    old = PREFIX + "epoch: [2/5], iter: 30, lr: 0.001000, loss: 1.250000, reader_cost: 0.1 s, batch_cost: 0.2 s"
    event = log_lines.parse_log_line(old)
    assert (event.values["global_step"], event.values["eta_seconds"]) == (30, None)
    assert log_lines.progress_values(event, "rec") == {
        "epoch": 2, "epochs": 5, "step": 30, "global_step": 30, "loss": 1.25}


@given(st.integers(min_value=0, max_value=400 * 86400), st.integers(min_value=0, max_value=999999))
def test_eta_parses_any_timedelta(seconds, microseconds):
    delta = datetime.timedelta(seconds=seconds, microseconds=microseconds)
    assert log_lines.eta_seconds(f"ips: 1.0 samples/s, eta: {delta}, max_mem_reserved: 1 MB") == pytest.approx(
        delta.total_seconds()
    )


def test_eval_lines_rec_and_det():
    cur = log_lines.parse_log_line(PREFIX + "cur metric, acc: 0.9375, norm_edit_dis: 0.98, fps: 812.5")
    assert cur.kind == "cur_metric"
    assert cur.values == {"acc": 0.9375, "norm_edit_dis": 0.98, "fps": 812.5}
    assert log_lines.progress_values(cur, "rec") == {"accuracy": 0.9375}
    best = log_lines.parse_log_line(
        PREFIX + "best metric, acc: 0.96875, is_float16: False, norm_edit_dis: 0.99, fps: 800.0, "
        "best_epoch: 4, start_epoch: 3"
    )
    assert best.kind == "best_metric"
    assert best.values["best_epoch"] == 4 and best.values["is_float16"] is False
    assert log_lines.progress_values(best, "rec") == {"best_accuracy": 0.96875}
    det_line = PREFIX + "cur metric, precision: 0.8, recall: 0.7, hmean: 0.7466666666666667, fps: 9.1"
    assert log_lines.progress_values(log_lines.parse_log_line(det_line), "det") == {"accuracy": 0.7466666666666667}
    # a metric line without the task's main indicator reports nothing
    assert log_lines.progress_values(log_lines.parse_log_line(det_line), "rec") == {}


@pytest.mark.parametrize(
    "line",
    [
        PREFIX + "save model in ./output/latest",
        PREFIX + "During the training process, after the 0th iteration, an evaluation is run every 8 iterations",
        "eval model:: 100%|██████████| 3/3 [00:01<00:00,  2.1it/s]",
        "",
    ],
)
def test_other_lines_are_ignored(line):
    assert log_lines.parse_log_line(line) is None


def test_eval_output_is_read_after_its_marker():
    text = "\n".join(
        [
            PREFIX + "metric in ckpt ***************",
            PREFIX + "hmean:0.1",
            PREFIX + "best_epoch:3",
            PREFIX + "metric eval ***************",
            PREFIX + "precision:0.875",
            PREFIX + "recall:0.7",
            PREFIX + "hmean:0.7777777777777778",
            PREFIX + "fps:12.5",
        ]
    )
    assert log_lines.parse_eval_output(text) == {
        "precision": 0.875, "recall": 0.7, "hmean": 0.7777777777777778, "fps": 12.5,
    }
    assert log_lines.parse_eval_output("no metrics here") == {}
