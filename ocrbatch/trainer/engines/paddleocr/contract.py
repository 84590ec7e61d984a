"""What this project assumes about a PaddleOCR 3.x checkout, in one place (its log lines: ``log_lines``).

Sources are summarised in ``PADDLEOCR_CONTRACT.md``: where the base configs live, how a training
config is generated from one (dataset paths, character dict, epochs/lr/batch size, user overrides),
the command lines of ``tools/train.py``, ``tools/export_model.py`` and ``tools/eval.py`` (plain or
under ``paddle.distributed.launch``), and the checkpoint layout and resume rule. The engine
(``engine.py``) only orchestrates processes around these facts.

Generated configs are complete files, so no ``-o`` option is ever needed: values keep their YAML
types (``1e-3`` stays a number), nothing is split on ``=``, and the file is the exact record of what
was trained.
"""

from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from ocrbatch.errors import BadInput
from ocrbatch.trainer.engines.paddleocr import launcher, local_cpu

DEFAULT_MODELS = {"rec": "PP-OCRv5_mobile_rec", "det": "PP-OCRv5_mobile_det"}
# Official pretrained (fine-tuning) weights; the image downloads the default models' ones.
WEIGHTS_BASE_URL = "https://paddle-model-ecology.bj.bcebos.com/paddlex/official_pretrained_model/"
CHECKPOINT_SUFFIXES = (".pdparams", ".pdopt", ".states")  # save_model writes .states last
LATEST, BEST = "latest", "best_accuracy"
MAIN_INDICATOR = {"rec": "acc", "det": "hmean"}
NEVER = 10**6  # an epoch count training never reaches (turns periodic iter_epoch_N saves off)
# Keys the engine must own: where checkpoints go and their layout (it watches them), the resume
# point, the dict (it ships with the model) and the dataset. Users may override everything else.
ENGINE_KEYS = (
    "Global.save_model_dir", "Global.checkpoints", "Global.uniform_output_enabled",
    "Global.character_dict_path", "Global.save_inference_dir",
    "Train.dataset.data_dir", "Train.dataset.label_file_list",
    "Eval.dataset.data_dir", "Eval.dataset.label_file_list",
)

KeyPath = tuple  # a key path into the config: str for mapping keys, int for list items


# --- where things are ---------------------------------------------------------------------------


def model_task(model: str) -> str:
    if model.endswith("_rec"):
        return "rec"
    if model.endswith("_det"):
        return "det"
    raise BadInput(f"model {model!r} is neither a recognition (_rec) nor a detection (_det) model")


def known_models(paddleocr_home: Path, task: str | None = None) -> dict[str, Path]:
    """Every PP-OCR rec/det model with a config in the checkout, by name: the file's stem ending in
    ``_rec``/``_det`` (``PP-OCRv5_mobile_rec``, ``en_PP-OCRv4_mobile_rec``, ``latin_PP-OCRv5_mobile_rec``
    in ``multi_language/``...). Distillation and other training variants end otherwise and are left out."""
    found: dict[str, Path] = {}
    for each in ("rec", "det") if task is None else (task,):
        folder = Path(paddleocr_home) / "configs" / each
        for path in sorted(folder.rglob("*PP-OCR*")) if folder.is_dir() else ():
            if path.suffix in (".yml", ".yaml") and path.stem.endswith(f"_{each}"):
                found.setdefault(path.stem, path)
    return found


def base_config_path(paddleocr_home: Path, model: str) -> Path:
    """The config a model name stands for, e.g. configs/rec/PP-OCRv5/PP-OCRv5_mobile_rec.yml."""
    task = model_task(model)
    models = known_models(paddleocr_home, task)
    if model in models:
        return models[model]
    known = ", ".join(sorted(models)) or "none"
    raise BadInput(f"no PaddleOCR {task} model {model!r} in {paddleocr_home}; known {task} models: {known}")


def pretrained_weights(weights_dir: Path, model: str) -> str:
    """The image's copy of the official weights, else their URL (PaddleOCR downloads URLs itself)."""
    local = Path(weights_dir) / pretrained_file_name(model)
    return str(local) if local.is_file() else WEIGHTS_BASE_URL + pretrained_file_name(model)


def pretrained_file_name(model: str) -> str:
    return f"{model}_pretrained.pdparams"


def checkpoint_prefix(folder: Path, prefix: str) -> Path | None:
    """``folder/prefix`` when its three checkpoint files are all there, else None."""
    base = Path(folder) / prefix
    if all(base.with_name(prefix + suffix).is_file() for suffix in CHECKPOINT_SUFFIXES):
        return base
    return None


def resume_settings(checkpoint_dir: Path, pretrained: str) -> dict[str, str | None]:
    """The resume rule: ``Global.checkpoints`` (weights, optimizer, epoch) when ``latest.pdparams``
    exists, otherwise start from the pretrained weights. Paths are prefixes without extension."""
    if (Path(checkpoint_dir) / (LATEST + ".pdparams")).is_file():
        return {"checkpoints": str(Path(checkpoint_dir) / LATEST), "pretrained_model": None}
    return {"checkpoints": None, "pretrained_model": pretrained}


# --- config generation --------------------------------------------------------------------------


def linked_paths(text: str) -> list[set[KeyPath]]:
    """Groups of key paths that share one YAML anchor (``&bs 128`` ... ``*bs``).

    PyYAML resolves aliases when loading, so after a load the link is gone; setting
    ``Train.sampler.first_bs`` alone would leave ``Train.loader.batch_size_per_card`` at the old
    value. The composed node graph still knows which paths are one node.
    """
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    where: dict[int, set[KeyPath]] = {}

    def walk(node, path: KeyPath):
        where.setdefault(id(node), set()).add(path)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, path + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, path + (index,))

    if root is not None:
        walk(root, ())
    return [paths for paths in where.values() if len(paths) > 1]


def parse_value(raw: str):
    """A user's override value as PaddleOCR's ``-o`` would read it, minus its traps: YAML 1.1 reads
    ``1e-3`` as a string (we make it a float) and ``None`` as the string "None" (we make it null)."""
    raw = raw.strip()
    if raw in ("None", "none"):
        return None
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


class TrainingConfig:
    """A PaddleOCR config being edited: the loaded dict plus the anchor links of its source."""

    def __init__(self, text: str, *, source: str = "config"):
        try:
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise BadInput(f"{source} is not valid YAML: {err}") from None
        if not isinstance(self.data, dict) or "Global" not in self.data:
            raise BadInput(f"{source} is not a PaddleOCR config (no Global section)")
        self.links = linked_paths(text)
        self.source = source

    @classmethod
    def load(cls, path: Path) -> "TrainingConfig":
        return cls(Path(path).read_text(encoding="utf-8"), source=str(path))

    def get(self, dotted: str, default=None):
        node = self.data
        for key in _split(dotted):
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return default
        return node

    def has(self, dotted: str) -> bool:
        marker = object()
        return self.get(dotted, marker) is not marker

    def set(self, dotted: str, value, *, create: bool = True) -> None:
        """Set a key like PaddleOCR's merge_config (the first and intermediate keys must exist, the
        last is set or created), and every key anchored to it as well. ``create=False`` refuses a
        new last key too. List items can be addressed by index (``transforms.1.RecAug``)."""
        path = _split(dotted)
        parent = self.data
        for depth, key in enumerate(path[:-1]):
            try:
                parent = parent[key]
            except (KeyError, IndexError, TypeError):
                where = ".".join(str(k) for k in path[: depth + 1])
                raise BadInput(f"config key {dotted!r}: {where!r} does not exist in {self.source}") from None
        last = path[-1]
        if isinstance(parent, list):
            if not isinstance(last, int) or not -len(parent) <= last < len(parent):
                raise BadInput(f"config key {dotted!r}: no list item {last!r} in {self.source}")
        elif not isinstance(parent, dict):
            raise BadInput(f"config key {dotted!r}: its parent is a value, not a section")
        elif last not in parent and (not create or len(path) == 1):
            raise BadInput(f"config key {dotted!r} does not exist in {self.source}")
        for linked in self._linked(path):
            self._assign(linked, value)

    def _linked(self, path: KeyPath) -> list[KeyPath]:
        for group in self.links:
            if path in group:
                return sorted(group, key=str)
        return [path]

    def _assign(self, path: KeyPath, value) -> None:
        parent = self.data
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = value

    def dump(self) -> str:
        return yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True, default_flow_style=False)

    def write(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.dump(), encoding="utf-8")
        return path


def _split(dotted: str) -> KeyPath:
    if not dotted or any(not part for part in dotted.split(".")):
        raise BadInput(f"config key {dotted!r} must look like Section.key.subkey")
    return tuple(int(part) if part.isdigit() else part for part in dotted.split("."))


@dataclass(frozen=True)
class ConfigInputs:
    """What one run contributes to the base config."""

    model: str
    data_dir: Path
    train_labels: Path
    val_labels: Path
    dict_file: Path
    save_model_dir: Path
    pretrained_model: str | None
    checkpoints: str | None = None
    use_gpu: bool = False
    epochs: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    max_text_length: int | None = None  # longest label in the dataset (rec)
    num_workers: int | None = None  # cap for the DataLoader workers (the CPUs we have)
    overrides: tuple[tuple[str, str], ...] = ()  # user's "Key.sub", "value" pairs, applied last


def batch_size_key(config: TrainingConfig) -> str:
    """PP-OCRv5 rec batches come from its sampler (the loader's batch size is then ignored)."""
    if config.has("Train.sampler.first_bs"):
        return "Train.sampler.first_bs"
    return "Train.loader.batch_size_per_card"


def generate_config(config: TrainingConfig, inputs: ConfigInputs) -> TrainingConfig:
    """Turn a loaded base config (edited in place) into this run's training config: dataset paths,
    character dict, epochs/lr/batch size, then the user's overrides, which win."""
    task = model_task(inputs.model)
    config.set("Global.model_name", inputs.model)
    config.set("Global.use_gpu", bool(inputs.use_gpu))
    config.set("Global.save_model_dir", str(inputs.save_model_dir))
    config.set("Global.pretrained_model", inputs.pretrained_model)
    config.set("Global.checkpoints", inputs.checkpoints)
    # Only latest.* and best_accuracy.* are needed; iter_epoch_N copies would just fill the disk.
    config.set("Global.save_epoch_step", NEVER)
    # Evaluate once per epoch: the configs' step interval (2000) never fires on small datasets.
    config.set("Global.eval_batch_epoch", 1)
    config.set("Global.character_dict_path", str(inputs.dict_file))
    # The launcher's settings, in a section of their own so that --set can reach them.
    config.data.setdefault(launcher.SETTINGS_SECTION, {"save_every_minutes": launcher.DEFAULT_SAVE_EVERY_MINUTES})
    if task == "rec":
        # The inference side (paddleocr's CTCLabelDecode) always appends a space class.
        config.set("Global.use_space_char", True)
        if inputs.max_text_length and inputs.max_text_length > (config.get("Global.max_text_length") or 0):
            config.set("Global.max_text_length", int(inputs.max_text_length))
    for section, labels in (("Train", inputs.train_labels), ("Eval", inputs.val_labels)):
        config.set(f"{section}.dataset.data_dir", str(inputs.data_dir))
        config.set(f"{section}.dataset.label_file_list", [str(labels)])
        workers = config.get(f"{section}.loader.num_workers")
        if inputs.num_workers is not None and isinstance(workers, int) and workers > inputs.num_workers:
            config.set(f"{section}.loader.num_workers", inputs.num_workers)
    if inputs.epochs is not None:
        config.set("Global.epoch_num", int(inputs.epochs))
    if inputs.learning_rate is not None:
        config.set("Optimizer.lr.learning_rate", float(inputs.learning_rate))
    if inputs.batch_size is not None:
        config.set(batch_size_key(config), int(inputs.batch_size))
    if task == "det":
        _limit_det_eval_size(config)
    if not inputs.use_gpu:
        local_cpu.cpu_settings(config, cpus=inputs.num_workers or 1)
    for key, raw in inputs.overrides:
        if key in ENGINE_KEYS:
            raise BadInput(f"{key} is set by the paddleocr engine and cannot be overridden")
        config.set(key, parse_value(raw))
    if local_cpu.batches_by_width(config):
        sized = local_cpu.write_sized_labels(inputs.train_labels, inputs.data_dir,
                                             inputs.dict_file.with_name(local_cpu.SIZED_LABELS))
        config.set("Train.dataset.label_file_list", [str(sized)])
    return config


def _limit_det_eval_size(config: TrainingConfig) -> None:
    """An unlimited DetResizeForTest runs large eval images at full size (OOM, issue #14633)."""
    for item in config.get("Eval.dataset.transforms") or []:
        if isinstance(item, dict) and "DetResizeForTest" in item and not item["DetResizeForTest"]:
            item["DetResizeForTest"] = {"limit_side_len": 960, "limit_type": "max"}


def export_config(config: TrainingConfig, checkpoint: Path, export_dir: Path) -> TrainingConfig:
    """The training config, pointed at one checkpoint and an output folder, exporting PIR json."""
    exporting = TrainingConfig(config.dump(), source=config.source)
    exporting.set("Global.checkpoints", None)
    exporting.set("Global.pretrained_model", str(checkpoint))
    exporting.set("Global.save_inference_dir", str(export_dir))
    exporting.set("Global.export_with_pir", True)
    return exporting


def eval_config(config: TrainingConfig, checkpoint: Path) -> TrainingConfig:
    evaluating = TrainingConfig(config.dump(), source=config.source)
    evaluating.set("Global.checkpoints", str(checkpoint))
    evaluating.set("Global.pretrained_model", None)
    return evaluating


def write_dict(characters, path: Path) -> Path:
    """One character per line; the space is left out because use_space_char adds it."""
    lines = [c for c in characters if c not in (" ", "\n", "\r", "\t", "")]
    if not lines:
        raise BadInput("the dataset has no characters to recognise")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- command lines ------------------------------------------------------------------------------


def tool_command(paddleocr_home: Path, tool: str, config_file: Path, *, gpu_ids=(), python=None) -> list[str]:
    """``python tools/<tool>.py -c <config>``; under ``paddle.distributed.launch --gpus`` for >1 GPU.
    ``train`` runs through our launcher (``launcher.py HOME -c <config>``), which runs tools/train.py.

    The config is complete, so there is no ``-o`` group at all.
    """
    if tool == "train":
        script = [launcher.__file__, str(paddleocr_home)]
    else:
        script = [str(Path(paddleocr_home) / "tools" / f"{tool}.py")]
    python = python or sys.executable
    distributed = []
    if len(gpu_ids) > 1:
        distributed = ["-m", "paddle.distributed.launch", "--gpus", ",".join(str(g) for g in gpu_ids)]
    return [python, *distributed, *script, "-c", str(config_file)]


def visible_gpus(environ=None, list_gpus=None) -> list[str]:
    """GPU ids to train on: CUDA_VISIBLE_DEVICES when set (paddle's launcher matches its entries),
    else one per ``GPU n:`` line of ``nvidia-smi -L`` (``list_gpus`` returns that text)."""
    environ = os.environ if environ is None else environ
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [part.strip() for part in visible.split(",") if part.strip()]
        return [] if not ids or ids[0] in ("-1", "NoDevFiles", "none") else ids
    text = (list_gpus or _nvidia_smi_list)()
    count = sum(1 for line in text.splitlines() if re.match(r"\s*GPU \d+:", line))
    return [str(i) for i in range(count)]


def _nvidia_smi_list() -> str:
    import subprocess

    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
