"""Checkpoints of the builtin engine in ``checkpoint_dir``.

    latest.pdparams  latest.pdopt  latest.json   where training is (written mid-epoch and per epoch)
    best.pdparams    best.json                   the weights with the best val accuracy so far

Each file is written to a temporary name and renamed into place; the JSON goes last and records the
size and sha256 of the binary files it belongs to, so a half-written checkpoint is detected rather than
half-loaded. The JSON also records the character set and the model shape: resuming with a different
dataset dictionary or model settings is refused with a clear message instead of loading garbage.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import paddle

from ocrbatch.digests import sha256_file
from ocrbatch.errors import BadInput, IntegrityError

FORMAT = 1


@dataclass
class TrainState:
    """Where training stands. ``step`` counts the batches of ``epoch`` already trained on."""

    epoch: int = 0
    step: int = 0
    global_step: int = 0
    train_seconds: float = 0.0  # time spent training, without evaluation and checkpoints
    eval_seconds: float = 0.0
    best_accuracy: float = -1.0
    best_epoch: int | None = None
    # What a fresh run started from (warm_start.load_into's summary), kept so a resumed run reports it.
    warm_start: dict = field(default_factory=dict)


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _save_binary(obj, path: Path) -> dict:
    _write_atomic(path, lambda tmp: paddle.save(obj, str(tmp)))
    return {"size": path.stat().st_size, "sha256": sha256_file(path)}


def _save_json(path: Path, data: dict) -> None:
    _write_atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1), encoding="utf-8"))


def _rename_optimizer_state(state: dict, renames: dict[str, str]) -> dict:
    """Optimizer state is keyed by Paddle's generated parameter names (``conv2d_40.w_0_moment1_0``),
    which depend on how many layers the process built before; key it by the model's structure instead."""
    prefixes = sorted(renames, key=len, reverse=True)
    renamed = {}
    for key, value in state.items():
        prefix = next((p for p in prefixes if key.startswith(p + "_")), None)
        renamed[renames[prefix] + key[len(prefix):] if prefix else key] = value
    return renamed


def portable_optimizer_state(model, optimizer) -> dict:
    return _rename_optimizer_state(optimizer.state_dict(),
                                   {p.name: "@" + key for key, p in model.named_parameters()})


def load_portable_optimizer_state(model, optimizer, state: dict) -> None:
    renames = {"@" + key: p.name for key, p in model.named_parameters()}
    optimizer.set_state_dict(_rename_optimizer_state(state, renames))


def save_latest(directory: Path, model, optimizer, state: TrainState, identity: dict) -> None:
    files = {
        "latest.pdparams": _save_binary(model.state_dict(), directory / "latest.pdparams"),
        "latest.pdopt": _save_binary(portable_optimizer_state(model, optimizer), directory / "latest.pdopt"),
    }
    _save_json(directory / "latest.json", {"format": FORMAT, **identity, "state": vars(state), "files": files})


def save_best(directory: Path, model, info: dict, identity: dict) -> None:
    files = {"best.pdparams": _save_binary(model.state_dict(), directory / "best.pdparams")}
    _save_json(directory / "best.json", {"format": FORMAT, **identity, **info, "files": files})


def has_latest(directory: Path) -> bool:
    return (directory / "latest.json").exists()


def _read_checked(directory: Path, name: str, identity: dict) -> dict:
    path = directory / name
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        files = meta["files"]
        if meta.get("format") != FORMAT:
            raise KeyError("format")
    except (OSError, ValueError, KeyError, TypeError):
        raise IntegrityError(f"checkpoint {path} is unreadable or not a builtin-engine checkpoint") from None
    for file_name, expected in files.items():
        file_path = directory / file_name
        if not file_path.is_file() or file_path.stat().st_size != expected["size"] \
                or sha256_file(file_path) != expected["sha256"]:
            raise IntegrityError(
                f"checkpoint {path} does not match {file_path.name} (missing, truncated or overwritten)"
            )
    for key, value in identity.items():
        if meta.get(key) != value:
            what = {"characters": "character set", "model": "model settings"}.get(key, key)
            raise BadInput(
                f"checkpoint in {directory} was trained with a different {what}; "
                "train into a fresh output location, or restore the settings it was trained with"
            )
    return meta


def _load_binary(path: Path):
    try:
        return paddle.load(str(path))
    except Exception as err:  # paddle raises assorted types for a corrupt pickle
        raise IntegrityError(f"checkpoint file {path} cannot be loaded: {err}") from None


def load_latest(directory: Path, model, optimizer, identity: dict) -> TrainState:
    meta = _read_checked(directory, "latest.json", identity)
    model.set_state_dict(_load_binary(directory / "latest.pdparams"))
    try:
        load_portable_optimizer_state(model, optimizer, _load_binary(directory / "latest.pdopt"))
    except (AssertionError, KeyError, ValueError) as err:
        raise IntegrityError(f"optimizer state in {directory / 'latest.pdopt'} does not fit the model: {err}") from None
    known = TrainState.__dataclass_fields__
    return TrainState(**{k: v for k, v in meta["state"].items() if k in known})


def load_best_weights(directory: Path, model, identity: dict) -> dict:
    """Load ``best.pdparams`` (``latest`` when no best was kept) into ``model``; return its metadata."""
    name = "best" if (directory / "best.json").exists() else "latest"
    meta = _read_checked(directory, f"{name}.json", identity)
    model.set_state_dict(_load_binary(directory / f"{name}.pdparams"))
    return meta
