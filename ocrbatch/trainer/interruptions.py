"""What an interrupted attempt cost: the training between the checkpoint the next attempt resumes from
and the last position the interrupted attempt reported.

The retried attempt works it out when it starts, from the ``progress.json`` the previous attempt left
and the checkpoint it restores, and records it under ``interruptions`` in its own progress, so
``monitor`` and ``list`` can tell a reclaim from a failure and say what it cost. A previous attempt
that ended ``interrupted`` honoured a SIGTERM (the Spot notice, a cancel) and checkpointed; one that
was still ``training`` was killed without warning. Progress is written every few seconds, so the
figure can fall short of the truth by up to that interval.
"""

from __future__ import annotations

STOPPED_STATES = ("interrupted",)
KILLED_STATES = ("starting", "fetching", "training", "exporting", "evaluating", "publishing")


def position(values: dict | None) -> int | None:
    """Optimizer steps done at ``values`` (a progress report or a checkpoint's position), or None
    when it does not say. Only the global count means the same in both: a progress report's epoch
    counts from 1, a checkpoint's counts the epochs finished."""
    if not values or values.get("global_step") is None:
        return None
    return int(values["global_step"])


def cost_of_previous_attempt(previous: dict | None, resumed_from: dict | None) -> dict | None:
    """The record of the previous attempt's interruption, or None when it was not interrupted."""
    if not previous or previous.get("state") not in STOPPED_STATES + KILLED_STATES:
        return None
    record = {
        "attempt": previous.get("attempt"),
        "notice": previous["state"] in STOPPED_STATES,
        "lost_steps": None,
        "lost_seconds": None,
    }
    if previous.get("epoch") is None:  # stopped before training started: nothing to lose
        record.update(lost_steps=0, lost_seconds=0.0)
        return record
    reached = position(previous)
    restored = position(resumed_from) if resumed_from else 0
    if reached is None or restored is None:
        return record
    lost = max(0, reached - restored)
    record["lost_steps"] = lost
    elapsed = previous.get("elapsed_seconds")
    if elapsed is not None and reached:
        record["lost_seconds"] = round(lost * float(elapsed) / reached, 1)
    return record


def total_lost_seconds(interruptions: list[dict]) -> float | None:
    known = [i["lost_seconds"] for i in interruptions if i.get("lost_seconds") is not None]
    return round(sum(known), 1) if known else None
