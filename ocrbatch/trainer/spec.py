"""What one training run is asked to do: the contract between `ocrbatch submit` and the trainer.

`submit` turns a :class:`TrainingSpec` into environment variables on the Batch job (or the local
process); the trainer reads them back with :meth:`TrainingSpec.from_env`. Command-line arguments of
``python -m ocrbatch.trainer`` override the environment, so a job definition can also pass them.

A sweep's children all get the sweep's base spec, whose ``sweep`` names the sweep manifest; each child
finds its own changes there by its array index (:func:`sweep_child`), and trains into its own run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields

from ocrbatch.errors import BadInput
from ocrbatch.layout import child_location
from ocrbatch.tasks import TASKS

ENGINES = ("builtin", "paddleocr")

ENV_PREFIX = "OCRBATCH_"
# Batch sets it in each child of an array job (0 .. size-1); local mode sets it the same way.
ARRAY_INDEX_VARIABLE = "AWS_BATCH_JOB_ARRAY_INDEX"
# What a sweep may change per child: the fields of a run, not where it reads or writes.
SWEEPABLE = ("engine", "task", "model", "epochs", "learning_rate", "batch_size", "overrides", "from_scratch")


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
    sweep: str | None = None  # a sweep child's: the sweep manifest's URI (the child's changes are there)

    def __post_init__(self):
        if not self.dataset:
            raise BadInput("training spec: dataset URI is required")
        if not self.output:
            raise BadInput("training spec: output URI is required")
        if self.engine not in ENGINES:
            raise BadInput(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.task not in TASKS:
            raise BadInput(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
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


def sweep_child(spec: TrainingSpec, environ: Mapping[str, str], read_manifest: Callable[[str], dict]) -> TrainingSpec:
    """The spec this process trains. A sweep's child gets the sweep's base spec; its own changes are
    in the manifest at its array index (a one-child sweep is a plain Batch job: index 0), and it
    trains into its own run folder beside the sweep's. Any other spec is returned as it is."""
    if not spec.sweep:
        return spec
    manifest = read_manifest(spec.sweep)
    children = manifest.get("children") if isinstance(manifest, dict) else None
    if not isinstance(children, list) or not children:
        raise BadInput(f"sweep manifest {spec.sweep} lists no children")
    raw = environ.get(ARRAY_INDEX_VARIABLE)
    if raw is None and len(children) == 1:
        raw = "0"
    if raw is None or not raw.isdigit() or int(raw) >= len(children):
        raise BadInput(f"{ARRAY_INDEX_VARIABLE}={raw!r} names no child of the {len(children)} in {spec.sweep}")
    index = int(raw)
    changes = children[index].get("changes") or {}
    unknown = sorted(set(changes) - set(SWEEPABLE))
    if unknown:
        raise BadInput(f"sweep manifest {spec.sweep}: child {index} changes {', '.join(unknown)}, which no child may")
    values = {**spec.to_json(), **changes, "output": child_location(spec.output, index)}
    values["overrides"] = {**spec.overrides, **{str(k): str(v) for k, v in (changes.get("overrides") or {}).items()}}
    return TrainingSpec(**values)


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["Global.use_amp=true", ...]`` -> dict, with a one-line error for a malformed item."""
    result = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"override {item!r} must look like KEY=VALUE")
        result[key.strip()] = value.strip()
    return result
