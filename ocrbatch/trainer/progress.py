"""The progress file the trainer rewrites beside its checkpoints (``runs/<id>/progress.json``).

`ocrbatch monitor` reads it on both backends. Keys are stable; absent values are null.

    {"state": "training", "engine": "builtin", "epoch": 3, "epochs": 20, "step": 120,
     "steps_per_epoch": 40, "loss": 0.12, "accuracy": 0.95, "best_accuracy": 0.96,
     "eta_seconds": 40.0, "elapsed_seconds": 31.5, "resumed_from": {"epoch": 2, "step": 80},
     "attempt": 2, "message": null, "updated_at": "2026-11-29T18:40:00Z",
     "interruptions": [{"attempt": 1, "notice": true, "lost_steps": 0, "lost_seconds": 0.0}]}

``global_step``: optimizer steps since the start of training, for engines that count steps that way
(PaddleOCR); ``step`` is then that same count, and ``steps_per_epoch`` is unknown.

``interruptions``: one entry per earlier attempt that was stopped (``notice``: it honoured SIGTERM and
checkpointed) or killed, with the training it lost (``ocrbatch.trainer.interruptions``).

``state`` moves through STATES in order, ending in "succeeded", "failed" or "interrupted".
"""

from __future__ import annotations

STATES = (
    "starting", "fetching", "training", "exporting", "evaluating", "publishing",
    "succeeded", "failed", "interrupted",  # interrupted: stopped by SIGTERM, resumable
)

KEYS = (
    "state", "engine", "epoch", "epochs", "step", "global_step", "steps_per_epoch", "loss", "accuracy",
    "best_accuracy", "eta_seconds", "elapsed_seconds", "resumed_from", "attempt", "message", "updated_at",
    "interruptions",
)
