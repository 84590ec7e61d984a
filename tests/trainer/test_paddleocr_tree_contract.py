"""The shared PaddleOCR tree (``<repo>/../shared/paddleocr/src``, what the training image pins) still has
every file, function, config key and log format the paddleocr engine and its launcher rely on.

Read as text and syntax trees only (no paddle import), so it runs in a second; when PaddleOCR moves
something, this says what, before a GPU job finds out.
"""

from __future__ import annotations

import ast
import re
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from ocrbatch.trainer.engines.paddleocr import contract, launcher, log_lines

TREE = Path(__file__).resolve().parents[2].parent / "shared" / "paddleocr" / "src"
pytestmark = pytest.mark.skipif(not (TREE / "tools" / "train.py").is_file(), reason=f"no PaddleOCR tree at {TREE}")


def source(relative: str) -> str:
    return (TREE / relative).read_text(encoding="utf-8")


def function(relative: str, name: str) -> ast.FunctionDef:
    for node in ast.walk(ast.parse(source(relative))):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise AssertionError(f"{relative} has no function {name}")


def test_the_tools_the_engine_runs_exist():
    for tool in ("train", "export_model", "eval"):
        command = contract.tool_command(TREE, tool, Path("c.yml"))
        script = Path(command[1]) if tool != "train" else TREE / "tools" / "train.py"
        assert script.is_file(), script
    assert (TREE / "tools" / "__init__.py").is_file()  # the launcher imports tools.program as a package


def test_the_functions_the_launcher_wraps_keep_their_shape():
    train = [arg.arg for arg in function("tools/program.py", "train").args.args]
    assert train[:12] == [
        "config", "train_dataloader", "valid_dataloader", "device", "model", "loss_class", "optimizer",
        "lr_scheduler", "post_process_class", "eval_class", "pre_best_model_dict", "logger",
    ]
    program = source("tools/program.py")
    assert "for idx, batch in enumerate(train_dataloader)" in program
    assert 'pre_best_model_dict["global_step"]' in program  # how a resumed global_step gets back in
    assert 'best_model_dict["start_epoch"]' in program
    assert re.search(r"train_dataloader = build_dataloader\(", program)  # rebuilt through the module name
    assert "from ppocr.data import build_dataloader" in program
    train_script = source("tools/train.py")
    assert "from ppocr.data import build_dataloader, set_signal_handlers" in train_script
    assert "import tools.program as program" in train_script and "program.train(" in train_script
    assert function("ppocr/data/__init__.py", "set_signal_handlers").args.args == []
    save = function("ppocr/utils/save_load.py", "save_model")
    assert [a.arg for a in save.args.args] == ["model", "optimizer", "model_path", "logger", "config", "is_best", "prefix"]
    assert save.args.kwarg is not None  # our steps_into_epoch rides in **kwargs into .states
    save_load = source("ppocr/utils/save_load.py")
    assert 'pickle.dump(kwargs, f, protocol=2)' in save_load
    assert 'best_model_dict["start_epoch"] = states_dict["epoch"] + 1' in save_load
    assert 'best_model_dict["acc"] = 0.0' in save_load  # the reset the launcher undoes
    assert 'logger.info("load pretrain successful from {}".format(path))' in save_load
    # Pretrained weights go through the module-level name the launcher replaces (fold_branches).
    assert [a.arg for a in function("ppocr/utils/save_load.py", "load_pretrained_params").args.args] == ["model", "path"]
    assert "is_float16 = load_pretrained_params(model, pretrained_model)" in save_load
    assert [a.arg for a in function("ppocr/utils/network.py", "maybe_download_params").args.args] == ["model_path"]


def test_the_branches_the_launcher_folds_are_named_as_it_expects():
    lcnet = source("ppocr/modeling/backbones/rec_lcnetv3.py")
    assert "self.conv_kxk = nn.LayerList(" in lcnet and "for conv in self.conv_kxk:" in lcnet
    assert "self.conv = Conv2D(" in lcnet and "self.bn = BatchNorm2D(" in lcnet  # ConvBNLayer's keys
    assert "kernel_conv_kxk += kernel" in lcnet  # rep(): the export sums the branches as the fold does
    assert "conv_kxk_num=4," in lcnet  # the default the local CPU config overrides


def test_batching_by_width_reads_the_sizes_the_engine_writes():
    dataset = source("ppocr/data/simple_dataset.py")
    assert 'config[mode]["dataset"].get("ds_width", False)' in dataset
    assert 'name, label, w, h = lins.strip("\\n").split(self.delimiter)' in dataset  # write_sized_labels' lines
    assert [a.arg for a in function("ppocr/data/multi_scale_sampler.py", "__init__").args.args][-3:] == [
        "ratio_wh", "max_w", "seed"]
    config = contract.TrainingConfig.load(contract.base_config_path(TREE, contract.DEFAULT_MODELS["rec"]))
    assert config.get("Train.dataset.name") == "MultiScaleDataSet" and config.get("Train.dataset.ds_width") is False
    assert config.get("Train.sampler.scales")[0] == [320, 32]  # the bench's by-width max_w: the full width


def test_default_model_configs_have_every_key_the_engine_sets():
    for task, model in contract.DEFAULT_MODELS.items():
        config = contract.TrainingConfig.load(contract.base_config_path(TREE, model))
        assert config.get("Global.model_name") == model
        for key in ("Global.use_gpu", "Global.save_model_dir", "Global.pretrained_model", "Global.checkpoints",
                    "Global.save_epoch_step", "Global.epoch_num",
                    "Global.eval_batch_step", "Global.print_batch_step", "Optimizer.lr.learning_rate",
                    contract.batch_size_key(config), "Architecture.model_type", "Train.loader.num_workers",
                    "Eval.loader.num_workers"):
            assert config.has(key), (model, key)
        for section in ("Train", "Eval"):
            assert config.has(f"{section}.dataset.data_dir") and config.has(f"{section}.dataset.label_file_list")
        if task == "rec":
            for key in ("Global.use_space_char", "Global.max_text_length", "Global.character_dict_path"):
                assert config.has(key), (model, key)
            assert contract.batch_size_key(config) == "Train.sampler.first_bs"
            assert config.get("PostProcess.name") == "CTCLabelDecode"
            assert config.get("Metric.main_indicator") == contract.MAIN_INDICATOR["rec"]
        else:
            assert config.get("Metric.main_indicator") == contract.MAIN_INDICATOR["det"]


def test_config_keys_the_engine_adds_are_read_by_the_tree():
    program, export = source("tools/program.py"), source("ppocr/utils/export_model.py")
    assert 'config["Global"].get("eval_batch_epoch", None)' in program
    assert 'config["Global"].get("uniform_output_enabled", False)' in program
    assert 'config["Global"].get("export_with_pir", True)' in export
    assert 'config["Global"]["save_inference_dir"]' in export
    assert launcher.SETTINGS_SECTION not in program + source("tools/train.py")  # our section stays ours


def test_log_formats_the_engine_parses():
    program = source("tools/program.py")
    line = program[program.index('"epoch: [{}/{}], global_step: {}'):]
    assert "avg_reader_cost" in line[:200] and "eta: {}" in line[:400]
    assert '"cur metric, {}"' in program and '"best metric, {}"' in program
    assert 'logger.info("metric eval ***************")' in source("tools/eval.py")
    sample = "epoch: [3/10], global_step: 12, lr: 0.000500, loss: 1.500000, avg_reader_cost: 0.1 s, eta: 0:01:02"
    assert log_lines.parse_log_line(sample).values["global_step"] == 12


def test_every_pp_ocr_model_with_a_config_resolves():
    models = contract.known_models(TREE)
    for expected in ("PP-OCRv5_mobile_rec", "PP-OCRv5_server_rec", "PP-OCRv5_mobile_det", "PP-OCRv4_server_det",
                     "en_PP-OCRv4_mobile_rec", "latin_PP-OCRv5_mobile_rec", "korean_PP-OCRv5_mobile_rec",
                     "en_PP-OCRv3_mobile_rec", "chinese_cht_PP-OCRv3_mobile_rec"):
        assert expected in models
        assert contract.base_config_path(TREE, expected) == models[expected]
    configs = [p for p in (TREE / "configs").rglob("*PP-OCR*.y*ml") if p.stem.endswith(("_rec", "_det"))]
    assert len(models) == len(configs)
    for name, path in models.items():
        config = contract.TrainingConfig.load(path)
        assert config.get("Global.model_name") in (name, None), path  # names match the stock ones


def test_the_tree_requirements_are_installed():
    """scripts/dev installs the `paddleocr-train` extra; it must cover the tree's requirements.txt."""
    missing = []
    for line in source("requirements.txt").splitlines():
        name = re.split(r"[<>=!~;\[ ]", line.split("#")[0].strip())[0]
        if not name:
            continue
        # opencv-contrib-python is opencv-python's cv2 plus the contrib modules (pyproject says why)
        name = {"opencv-python": "opencv-contrib-python"}.get(name, name)
        try:
            distribution(name)
        except PackageNotFoundError:
            missing.append(name)
    assert not missing, f"not installed: {missing}"
