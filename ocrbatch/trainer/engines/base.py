"""The contract between the trainer's orchestration (``ocrbatch.trainer.run``) and an engine.

The orchestrator fetches the dataset, restores checkpoints from the run's output location into
``checkpoint_dir`` (so an engine resumes simply by finding them there), forwards SIGTERM as
``stop_requested``, uploads every checkpoint the engine announces, publishes progress, and finally
publishes what the engine exported. The engine only trains, checkpoints, exports and evaluates.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from ocrbatch.datasets.local_dataset import LocalDataset
from ocrbatch.stop_window import STOP_BUDGET_S
from ocrbatch.trainer.history import RunHistory
from ocrbatch.trainer.spec import TrainingSpec


class Preempted(Exception):
    """Raised by an engine that stopped early because stop_requested was set (after checkpointing)."""


@dataclass
class TrainContext:
    spec: TrainingSpec
    dataset: LocalDataset
    workdir: Path  # scratch space for the engine
    checkpoint_dir: Path  # engine writes checkpoints here; pre-filled when resuming
    export_dir: Path  # engine writes inference.json/.pdiparams/.yml (+ dict) here
    # Call after a complete, consistent checkpoint is on disk in checkpoint_dir: it is uploaded as a
    # whole (atomically) in the background. ``info`` is small JSON-able metadata (epoch, step, ...).
    on_checkpoint: Callable[[dict], None]
    # Call with any progress.KEYS (epoch, step, loss, accuracy, eta_seconds, ...); throttled for you.
    report: Callable[..., None]
    stop_requested: threading.Event = field(default_factory=threading.Event)
    # Seconds left of the stop budget once stop_requested is set (ocrbatch.stop_window): what an engine
    # may spend saving before the orchestrator's upload needs the rest.
    stop_time_left: Callable[[], float] = lambda: STOP_BUDGET_S
    use_gpu: bool = False
    # Record every training report (``history.step``) and evaluation (``history.evaluation``) here:
    # the run's page draws its curves from it, across attempts.
    history: RunHistory = field(default_factory=RunHistory)


@dataclass(frozen=True)
class TrainResult:
    model_name: str  # the stock paddleocr model name written as Global.model_name in inference.yml
    metrics: dict  # at least: accuracy (held-out exact match), norm_edit_distance, epochs, train_seconds
    dict_file: Path  # character dict used (one character per line), copied into the artifact
    config_file: Path  # the exact config the engine trained with, copied into the artifact


class Engine(Protocol):
    name: str

    def train(self, ctx: TrainContext) -> TrainResult:
        """Train (resuming from ctx.checkpoint_dir when it holds a checkpoint), export the best model
        into ctx.export_dir, evaluate the exported model on the val split and return its metrics.
        Raise Preempted when stopping because ctx.stop_requested was set."""
        ...
