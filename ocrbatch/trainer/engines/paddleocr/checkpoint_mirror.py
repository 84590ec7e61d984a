"""Mirrors PaddleOCR's checkpoints into the run's checkpoint folder, one consistent set at a time.

PaddleOCR writes ``latest.pdopt``, ``.pdparams`` and ``.states`` in that order, in place, at epoch
ends (and our launcher at a stop or timed save); a copy taken mid-write would be a mix of two saves.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import shutil
from pathlib import Path
from typing import Callable

from ocrbatch.trainer.engines.paddleocr import contract

log = logging.getLogger("ocrbatch.trainer")


def _signature(folder: Path, prefix: str):
    """(mtime, size) of ``prefix.states`` when the trio is complete and was written in save order
    (.pdopt, .pdparams, then .states); None while one is missing or a new save is under way."""
    try:
        stats = [os.stat(Path(folder) / (prefix + suffix)) for suffix in contract.CHECKPOINT_SUFFIXES]
    except FileNotFoundError:
        return None
    states = stats[-1]
    if any(s.st_mtime_ns > states.st_mtime_ns for s in stats[:-1]) or states.st_size == 0:
        return None
    return (states.st_mtime_ns, states.st_size, stats[0].st_size, stats[1].st_size)


def copy_checkpoint(source: Path, target: Path, prefix: str) -> dict | None:
    """Copy a complete trio into ``target``; returns its states. Returns None and leaves ``target``
    untouched when there is no complete trio, PaddleOCR rewrote it while we copied, or its
    ``.states`` does not unpickle (a save cut short by a kill)."""
    signature = _signature(source, prefix)
    if signature is None:
        return None
    Path(target).mkdir(parents=True, exist_ok=True)
    copies = []
    for suffix in contract.CHECKPOINT_SUFFIXES:
        temporary = Path(target) / f".tmp-{prefix}{suffix}"
        shutil.copyfile(Path(source) / (prefix + suffix), temporary)
        copies.append((temporary, Path(target) / (prefix + suffix)))
    states = read_states(copies[-1][0])
    if "epoch" not in states or _signature(source, prefix) != signature:
        for temporary, _ in copies:
            temporary.unlink(missing_ok=True)
        return None
    for temporary, final in copies:
        os.replace(temporary, final)
    return states


def read_states(path: Path) -> dict:
    """The pickled ``.states`` dict (epoch, global_step, best_model_dict); {} if unreadable."""
    try:
        with open(path, "rb") as handle:
            states = pickle.load(handle)
    except Exception:  # noqa: BLE001 - metadata only; the checkpoint itself is what matters
        return {}
    return states if isinstance(states, dict) else {}


def _json_number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() and not isinstance(value, float) else number


class CheckpointMirror:
    """Copies each complete ``latest.*`` trio (and the current ``best_accuracy.*``) from PaddleOCR's
    output folder into the run's checkpoint folder, then announces it.

    A trio counts once its ``.states`` (written last) is unchanged across two polls, and is skipped
    if PaddleOCR starts rewriting it while we copy. Only these files reach the checkpoint folder,
    so what gets uploaded is always a consistent set and never the train log or iter_epoch copies.
    """

    def __init__(self, source: Path, target: Path, announce: Callable[[dict], None]):
        self.source = Path(source)
        self.target = Path(target)
        self.announce = announce
        self._candidate = None
        self._announced = None
        self.announced = 0

    def poll(self, settled: bool = False) -> bool:
        """``settled``: the writer has exited, so a complete trio needs no second look."""
        signature = _signature(self.source, contract.LATEST)
        if signature is None or signature == self._announced:
            return False
        if not settled and signature != self._candidate:
            self._candidate = signature
            return False
        copy_checkpoint(self.source, self.target, contract.BEST)
        states = copy_checkpoint(self.source, self.target, contract.LATEST)
        if states is None:
            return False  # cut short, or rewritten while we copied: a later poll takes the new one
        self._announced = signature
        self.announced += 1
        best = states.get("best_model_dict") or {}
        info = {
            "engine": "paddleocr",
            "epoch": _json_number(states.get("epoch")),
            "step": _json_number(states.get("global_step")),
            "global_step": _json_number(states.get("global_step")),
            "best": {k: n for k, v in best.items() if (n := _json_number(v)) is not None and k != "is_float16"},
        }
        log.info("checkpoint complete: epoch %s", info["epoch"])
        self.announce(info)
        return True
