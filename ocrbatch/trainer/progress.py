"""The progress file the trainer rewrites beside its checkpoints (``runs/<id>/progress.json``).

`ocrbatch monitor` reads it on both backends. Keys are stable; absent values are null.

    {"state": "training", "engine": "builtin", "epoch": 3, "epochs": 20, "step": 12,
     "global_step": 92, "steps_per_epoch": 40, "loss": 0.12, "accuracy": 0.95, "best_accuracy": 0.96,
     "eta_seconds": 40.0, "elapsed_seconds": 31.5,
     "resumed_from": {"epoch": 2, "step": 0, "global_step": 80},
     "attempt": 2, "message": null, "updated_at": "2026-11-29T18:40:00Z",
     "interruptions": [{"attempt": 1, "notice": true, "lost_steps": 0, "lost_seconds": 0.0}]}

``epoch`` counts from 1 on every engine, as PaddleOCR's log does: epoch k of ``epochs`` is the k-th
pass over the data, under way or just done, so a finished run reads N of N.

``global_step``: optimizer steps since the start of training, on every engine; interruptions are
measured in it. ``step`` is the step within the epoch where the engine knows the epoch's length
(``steps_per_epoch``); PaddleOCR does not say it, and its ``step`` is the global count.

``resumed_from`` is the checkpoint's own position, as the engine saved it: ``epoch`` there counts the
epochs finished before it, ``step`` the steps into the next (PaddleOCR: the global count).

``interruptions``: one entry per earlier attempt that was stopped (``notice``: it honoured SIGTERM and
checkpointed) or killed, with the training it lost (``ocrbatch.trainer.interruptions``).

``hosts``: the instance each attempt ran on, by attempt number (``{"1": {"instance_type": "g4dn.xlarge",
"availability_zone": "us-west-2a", "lifecycle": "spot", "instance_id": "i-0abc"}}``), as the instance
recorded it (``ocrbatch.host_facts``): what a run's cost is worked out from. Absent in local mode.

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
    "interruptions", "hosts",
)


def epoch_under_way(epochs_done: int, steps_into_next: int) -> int:
    """The 1-based epoch a position falls in: a step into the next epoch starts it; none yet leaves
    the count at the epoch just finished (the first, before any step)."""
    return epochs_done + 1 if steps_into_next or not epochs_done else epochs_done
