"""The builtin engine's settings: defaults, the spec fields and overrides it honours, and config.yml.

Spec fields: ``epochs``, ``learning_rate``, ``batch_size``. Override keys (``KEY=VALUE`` items) are
listed in OVERRIDES; a PaddleOCR-style ``Global.`` prefix is accepted too (``Global.character_dict_path``
works). Any other key is refused before training starts, so a typo never trains the wrong model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import yaml

from ocrbatch.errors import BadInput
from ocrbatch.trainer.spec import TrainingSpec

DEFAULT_MODEL_NAME = "PP-OCRv5_mobile_rec"
AUGMENT_BELOW = 10000


@dataclass(frozen=True)
class Settings:
    epochs: int | None = None  # None: enough epochs for about `min_steps` optimizer steps
    batch_size: int | None = None  # None: 32 on CPU (more updates per second), 128 on GPU
    learning_rate: float = 0.003  # peak of the one-cycle schedule (AdamW)
    weight_decay: float = 0.0001
    warmup_fraction: float = 0.05  # share of the schedule spent ramping the learning rate up
    min_steps: int = 4000  # used to choose epochs when none are given
    max_train_seconds: float | None = None  # stop training after this long; the schedule fits in it
    # What max_train_seconds counts: "wall" seconds, or "cpu" seconds of the training thread (the same
    # amount of training however busy a shared machine is; benchmarks use it).
    budget_clock: str = "wall"
    checkpoint_every_seconds: float = 120.0  # mid-epoch checkpoints, so a kill loses at most this
    seed: int = 1234
    max_width: int = 960  # resized line images wider than this are squeezed to it
    channels: tuple[int, ...] = (16, 32, 48, 64)
    hidden_size: int = 96
    seq_blocks: int = 3
    dropout: float = 0.1
    width_stride: int = 4  # input pixels per CTC frame: 4, or 8 (half the sequence, less compute)
    # Rows of the resized line: 48 as PaddleOCR's current rec models, or 32 as its earlier ones (less
    # than half the compute per line: more lines trained per CPU-second).
    input_height: int = 48
    line_context: bool = False  # a block that shows every frame the whole line (model.LineContext)
    # Light jitter of the training images. "auto": only for datasets under AUGMENT_BELOW samples,
    # which train for many epochs; big (e.g. generated) datasets learn faster without it.
    augment: str = "auto"
    use_amp: bool = True  # mixed precision; only ever on GPU
    num_workers: int = 2  # threads decoding and batching images
    cache_megabytes: int = 2048  # resized images kept in memory
    # Paddle threads for CPU training; 0: one per core. One is the default because this network's
    # kernels are too small to split: re-measured with the OpenMP block time at 0 (2 cores, batch 32),
    # a second thread took 4.2 CPU-s beside the main thread's 21.7, whose CPU time per image did not
    # drop (6.9 against 6.7 ms): at most ~1.2x faster on idle cores, for 30 % more CPU per image.
    cpu_threads: int = 1
    eval_batch_size: int = 128
    eval_every_steps: int = 0  # also evaluate (and keep the best) every N steps; 0: once per epoch
    character_dict_path: str | None = None  # instead of the dataset's characters; relative to the dataset
    init_from: str | None = None  # start from these weights: a shipped base's name or a folder (warm_start.py)
    model_name: str = DEFAULT_MODEL_NAME  # stock paddleocr name written to inference.yml

    def epochs_for(self, steps_per_epoch: int) -> int:
        if self.epochs is not None:
            return self.epochs
        return max(5, min(500, math.ceil(self.min_steps / max(1, steps_per_epoch))))

    def batch_size_for(self, use_gpu: bool) -> int:
        return self.batch_size or (128 if use_gpu else 32)

    def to_config(self) -> dict:
        values = asdict(self)
        values["channels"] = list(self.channels)
        return values


OVERRIDES = tuple(f.name for f in fields(Settings))


def setting_name(key: str) -> str:
    """The setting an override key names: a PaddleOCR-style ``Global.`` prefix names the same one."""
    return key.removeprefix("Global.")


def settings_from_spec(spec: TrainingSpec) -> Settings:
    values: dict = {}
    for key, raw in spec.overrides.items():
        name = setting_name(key)
        if name not in OVERRIDES:
            raise BadInput(
                f"the builtin engine does not know override {key!r}; known: {', '.join(OVERRIDES)}"
            )
        values[name] = _parse(name, raw)
    settings = replace(Settings(), **values)
    for name in ("epochs", "batch_size", "learning_rate"):
        if getattr(spec, name) is not None:
            settings = replace(settings, **{name: getattr(spec, name)})
    _check(settings)
    return settings


def _parse(name: str, raw):
    default = next(f for f in fields(Settings) if f.name == name).default
    kind = type(default) if default is not None else _OPTIONAL_KINDS[name]
    text = str(raw).strip()
    try:
        if kind is bool:
            if text.lower() in ("true", "1", "yes", "on"):
                return True
            if text.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if kind is tuple:
            return tuple(int(part) for part in text.strip("[]()").split(",") if part.strip())
        if name == "augment":
            return {"1": "true", "yes": "true", "on": "true", "0": "false", "no": "false",
                    "off": "false"}.get(text.lower(), text.lower())
        if text.lower() in ("none", "null", "") and default is None:
            return None
        return kind(text)
    except ValueError as err:
        raise BadInput(f"override {name}={raw!r} is not valid: {err}") from None


_OPTIONAL_KINDS = {"epochs": int, "batch_size": int, "max_train_seconds": float, "character_dict_path": str,
                   "init_from": str}


def _check(s: Settings) -> None:
    if s.batch_size is not None and s.batch_size <= 0:
        raise BadInput(f"batch_size must be positive, got {s.batch_size}")
    positive = ("learning_rate", "min_steps", "checkpoint_every_seconds", "max_width",
                "hidden_size", "eval_batch_size", "num_workers")
    for name in positive:
        if not getattr(s, name) > 0:
            raise BadInput(f"{name} must be positive, got {getattr(s, name)!r}")
    if s.epochs is not None and s.epochs <= 0:
        raise BadInput(f"epochs must be positive, got {s.epochs}")
    if s.max_train_seconds is not None and s.max_train_seconds <= 0:
        raise BadInput(f"max_train_seconds must be positive, got {s.max_train_seconds}")
    if len(s.channels) != 4 or min(s.channels) <= 0:
        raise BadInput(f"channels must be four positive integers, got {list(s.channels)}")
    if not 0 <= s.warmup_fraction < 1 or not 0 <= s.dropout < 1:
        raise BadInput("warmup_fraction and dropout must be in [0, 1)")
    if s.input_height not in (32, 48):
        raise BadInput(f"input_height must be 32 or 48, got {s.input_height}")
    if s.width_stride not in (4, 8):
        raise BadInput(f"width_stride must be 4 or 8, got {s.width_stride}")
    if s.budget_clock not in ("wall", "cpu"):
        raise BadInput(f"budget_clock must be wall or cpu, got {s.budget_clock!r}")
    if s.augment not in ("auto", "true", "false"):
        raise BadInput(f"augment must be auto, true or false, got {s.augment!r}")
    if s.max_width < 32:
        raise BadInput(f"max_width must be at least 32, got {s.max_width}")
    # Importing paddlex's model list costs about a second (it is checked again at submit time), so
    # only a name the user chose is looked up; the default is a stock name.
    registered = _registered_rec_models() if s.model_name != DEFAULT_MODEL_NAME else ()
    if registered and s.model_name not in registered:
        raise BadInput(f"model_name {s.model_name!r} is not a stock paddleocr recognition model")


def _registered_rec_models() -> tuple[str, ...]:
    """Names paddlex serves from a local static model; empty when paddlex is not installed."""
    try:
        from paddlex.modules.text_recognition.model_list import MODELS
    except ImportError:
        return ()
    return tuple(MODELS)


def write_config(path: Path, settings: Settings, *, epochs: int, dataset: str, characters: int,
                 model: dict) -> None:
    """The exact configuration trained with, for the artifact (``config.yml``)."""
    config = {
        "engine": "builtin",
        "dataset": dataset,
        "settings": {**settings.to_config(), "epochs": epochs},
        "model": model,
        "characters": characters,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
