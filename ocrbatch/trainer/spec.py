"""What one training run is asked to do: the contract between `ocrbatch submit` and the trainer.

`submit` turns a :class:`TrainingSpec` into environment variables on the Batch job (or the local
process); the trainer reads them back with :meth:`TrainingSpec.from_env`. Command-line arguments of
``python -m ocrbatch.trainer`` override the environment, so a job definition can also pass them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

from ocrbatch.errors import BadInput
from ocrbatch.tasks import TASKS

ENGINES = ("builtin", "paddleocr")

ENV_PREFIX = "OCRBATCH_"


@dataclass(frozen=True)
class TrainingSpec:
    dataset: str  # dataset version URI: <store>/datasets/<name>/versions/<id>
    output: str  # run URI: <store>/runs/<run_id>
    engine: str = "builtin"
    task: str = "rec"
    model: str | None = None  # base model for the paddleocr engine, e.g. PP-OCRv5_mobile_rec
    epochs: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    overrides: dict[str, str] = field(default_factory=dict)  # engine config keys, e.g. Global.use_amp=true
    from_scratch: bool = False  # paddleocr: random weights instead of the model's pretrained ones

    def __post_init__(self):
        if not self.dataset:
            raise BadInput("training spec: dataset URI is required")
        if not self.output:
            raise BadInput("training spec: output URI is required")
        if self.engine not in ENGINES:
            raise BadInput(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.task not in TASKS:
            raise BadInput(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.engine == "builtin" and self.task != "rec":
            raise BadInput("the builtin engine trains recognition only; use --engine paddleocr for det")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise BadInput(f"{name} must be a positive integer, got {value!r}")
        if self.learning_rate is not None and not (0 < self.learning_rate < 10):
            raise BadInput(f"learning_rate must be in (0, 10), got {self.learning_rate!r}")

    @classmethod
    def variables(cls) -> tuple[str, ...]:
        """Every variable a spec may set (OCRBATCH_DATASET, OCRBATCH_EPOCHS, ...)."""
        return tuple(ENV_PREFIX + f.name.upper() for f in fields(cls))

    def to_env(self) -> dict[str, str]:
        env = {}
        for key, value in asdict(self).items():
            if value is None or value == {} or (key == "from_scratch" and not value):
                continue
            env[ENV_PREFIX + key.upper()] = json.dumps(value) if key == "overrides" else str(value)
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **cli_values) -> "TrainingSpec":
        """Build from OCRBATCH_* variables; non-None keyword arguments win over the environment."""
        values: dict = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw)
        values.update({k: v for k, v in cli_values.items() if v is not None})
        if "dataset" not in values or "output" not in values:
            missing = [k for k in ("dataset", "output") if k not in values]
            raise BadInput(
                "trainer needs " + " and ".join(f"{ENV_PREFIX}{k.upper()} (or --{k})" for k in missing)
            )
        return cls(**values)

    def to_json(self) -> dict:
        return asdict(self)


def _parse(name: str, raw: str):
    try:
        if name in ("epochs", "batch_size"):
            return int(raw)
        if name == "learning_rate":
            return float(raw)
        if name == "from_scratch":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return raw.lower() in ("true", "1")
        if name == "overrides":
            value = json.loads(raw)
            if not isinstance(value, dict):
                raise ValueError("not an object")
            return {str(k): str(v) for k, v in value.items()}
    except ValueError as err:
        raise BadInput(f"{ENV_PREFIX}{name.upper()}={raw!r} is not valid: {err}") from None
    return raw


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["Global.use_amp=true", ...]`` -> dict, with a one-line error for a malformed item."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"override {item!r} must look like KEY=VALUE")
        result[key.strip()] = value.strip()
    return result
