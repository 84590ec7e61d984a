"""A run's history across its attempts: the training loss by step and every held-out evaluation, each
point with its wall-clock time and attempt number, plus when each attempt started and how it ended.

It lives beside the checkpoints (``runs/<id>/history.json``, rewritten every ``interval`` seconds and
when an attempt ends), so a retried attempt carries on the same history after a Spot reclaim: the
reclaimed attempt's last points stay, and the steps it lost show as the overlap between the attempts.
The published model holds the final copy; ``ocrbatch.report`` draws its curves from it.

    {"format": 1,
     "attempts": [{"attempt": 1, "started_at": 1764480000.0, "ended_at": ..., "state": "interrupted",
                   "resumed_from": null, "gpu": true}, ...],
     "steps": [{"step": 20, "loss": 3.1, "time": 1764480012.5, "attempt": 1}, ...],
     "evals": [{"step": 400, "time": ..., "attempt": 1, "accuracy": 0.62,
                "norm_edit_distance": 0.11}, ...]}

Step points stay bounded (``max_points``): each point is the mean loss over ``stride`` reports, and
when the list fills up, neighbours of the same attempt merge and the stride doubles, so a
100,000-step run keeps the shape of its curve in a few hundred kilobytes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import urllib.request
from typing import Callable, Mapping

from ocrbatch.errors import NotFound
from ocrbatch.storage import ObjectStore

log = logging.getLogger("ocrbatch.trainer")

FORMAT = 1
MAX_POINTS = 2000
WRITE_INTERVAL_S = 30.0
EVAL_KEYS = ("accuracy", "norm_edit_distance", "precision", "recall", "hmean")


class RunHistory:
    """The history of one run, recorded by the attempt ``attempt``. Without a store it only keeps
    the points in memory (an engine run outside the orchestrator, tests)."""

    def __init__(
        self,
        store: ObjectStore | None = None,
        key: str | None = None,
        *,
        attempt: int = 1,
        previous: dict | None = None,
        clock: Callable[[], float] = time.time,
        interval: float = WRITE_INTERVAL_S,
        max_points: int = MAX_POINTS,
    ):
        self.store, self.key, self.attempt = store, key, attempt
        self.clock, self.interval, self.max_points = clock, interval, max(2, max_points)
        earlier = previous if isinstance(previous, dict) and previous.get("format") == FORMAT else {}
        # A rerun of this attempt number (or a later one, which cannot be) replaces what it wrote.
        def keep(items: list) -> list:
            return [item for item in items if isinstance(item, dict) and (item.get("attempt") or 0) < attempt]

        self.attempts: list[dict] = keep(earlier.get("attempts") or [])
        self.steps: list[dict] = keep(earlier.get("steps") or [])
        self.evals: list[dict] = keep(earlier.get("evals") or [])
        self.stride = max(1, int(earlier.get("stride") or 1))
        self._pending: list[float] = []
        self._pending_at = 0  # the step of the newest pending report
        self.last_step = self.steps[-1]["step"] if self.steps else 0
        self._lock = threading.Lock()
        self._last_write = self.clock()

    @classmethod
    def resume(cls, store: ObjectStore, key: str, *, attempt: int, **options) -> "RunHistory":
        """The history earlier attempts left at ``key`` (none, or unreadable: a fresh one), continued."""
        try:
            previous = json.loads(store.get_bytes(key))
        except NotFound:
            previous = None
        except Exception as exc:  # noqa: BLE001 - the history is a record; training must go on
            log.warning("could not read the run's history: %s", exc)
            previous = None
        return cls(store, key, attempt=attempt, previous=previous, **options)

    # --- recording -------------------------------------------------------------------------------

    def start(self, *, resumed_from: dict | None = None, gpu: bool = False, **where) -> None:
        """This attempt begins (``where``: what it runs on, see :func:`where_it_runs`)."""
        with self._lock:
            self.attempts.append({"attempt": self.attempt, "started_at": round(self.clock(), 3), "ended_at": None,
                                  "state": "training", "resumed_from": resumed_from, "gpu": gpu, **where})
        self.flush()

    def step(self, step: int, loss: float) -> None:
        """One training report: ``loss`` at optimizer step ``step`` (a count since training began)."""
        self.last_step = step
        if loss is None or not math.isfinite(loss):
            return
        with self._lock:
            self._pending.append(float(loss))
            self._pending_at = step
            if len(self._pending) >= self.stride:
                self._take_pending()
        self._maybe_write()

    def evaluation(self, step: int, metrics: dict) -> None:
        """A held-out evaluation during training (the keys of EVAL_KEYS it has)."""
        values = {k: round(float(metrics[k]), 5) for k in EVAL_KEYS if isinstance(metrics.get(k), (int, float))}
        if not values:
            return
        with self._lock:
            self.evals.append({"step": step, "time": round(self.clock(), 3), "attempt": self.attempt, **values})
        self._maybe_write()

    def end(self, state: str) -> None:
        """This attempt is over (``succeeded``, ``failed``, ``interrupted``): write everything now."""
        with self._lock:
            if self._pending:
                self._take_pending()
            for record in self.attempts:
                if record["attempt"] == self.attempt:
                    record.update(ended_at=round(self.clock(), 3), state=state)
        self.flush()

    # --- the record --------------------------------------------------------------------------------

    def to_json(self) -> dict:
        with self._lock:
            return {"format": FORMAT, "stride": self.stride, "attempts": [dict(a) for a in self.attempts],
                    "steps": list(self.steps), "evals": list(self.evals)}

    def flush(self) -> None:
        if self.store is None or self.key is None:
            return
        try:
            self.store.put_bytes(self.key, json.dumps(self.to_json(), separators=(",", ":")).encode())
        except Exception as exc:  # noqa: BLE001 - the history is a record; training must go on
            log.warning("could not write the run's history: %s", exc)
        self._last_write = self.clock()

    def _maybe_write(self) -> None:
        if self.clock() - self._last_write >= self.interval:
            self.flush()

    def _take_pending(self) -> None:
        self.steps.append({"step": self._pending_at, "loss": round(sum(self._pending) / len(self._pending), 5),
                           "time": round(self.clock(), 3), "attempt": self.attempt})
        self._pending = []
        if len(self.steps) >= self.max_points:
            self.steps = merge_neighbours(self.steps)
            self.stride *= 2


def where_it_runs(use_gpu: bool, environ: Mapping[str, str] = os.environ) -> dict:
    """What this attempt runs on, as far as the container can tell: the GPU's model, and on AWS Batch
    the image (from ECS's task metadata endpoint; the instance's own metadata is out of a job's reach)."""
    facts: dict = {"device": "CPU"}
    if use_gpu:
        try:
            import paddle

            facts["device"] = paddle.device.cuda.get_device_name()
        except Exception:  # noqa: BLE001 - a name for the page, nothing depends on it
            facts["device"] = "GPU"
    endpoint = environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if endpoint:
        try:
            with urllib.request.urlopen(endpoint, timeout=2) as answer:
                facts["image"] = json.loads(answer.read()).get("Image")
        except Exception as exc:  # noqa: BLE001 - as above
            log.info("no image name from the task metadata endpoint: %s", exc)
    return facts


def merge_neighbours(points: list[dict]) -> list[dict]:
    """Halve a list of step points: each pair of one attempt becomes its later point with the mean loss
    (a point whose neighbour belongs to another attempt stays as it is, so resumes stay visible)."""
    merged: list[dict] = []
    index = 0
    while index < len(points):
        first = points[index]
        second = points[index + 1] if index + 1 < len(points) else None
        if second is not None and second["attempt"] == first["attempt"]:
            merged.append({**second, "loss": round((first["loss"] + second["loss"]) / 2, 5)})
            index += 2
        else:
            merged.append(first)
            index += 1
    return merged
