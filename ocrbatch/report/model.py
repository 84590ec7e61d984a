"""What the page is drawn from: the files of a published model (or of a run folder in the store), read
into one :class:`RunRecord`, and the facts worked out from them (curves, attempts, GPU-hours).

Every part is optional: an older model without ``history.json`` still gets a page, with the sections it
cannot fill saying so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ocrbatch.errors import NotFound
from ocrbatch.layout import (
    DATASET_RECORD_NAME,
    EVALUATION_NAME,
    HISTORY_NAME,
    MANIFEST_NAME,
    METRICS_NAME,
    MODEL_DIR,
    PROGRESS_NAME,
)
from ocrbatch.storage import ObjectStore

CONFIG_NAME = "config.yml"
JSON_PARTS = {"metrics": METRICS_NAME, "history": HISTORY_NAME, "findings": EVALUATION_NAME,
              "dataset": DATASET_RECORD_NAME, "manifest": MANIFEST_NAME}


@dataclass
class RunRecord:
    title: str
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    findings: dict = field(default_factory=dict)
    dataset: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    job: dict | None = None  # JobInfo.to_json() of the job that trained it, when the page is built for one
    progress: dict = field(default_factory=dict)  # the run's progress.json (its ``hosts``: where attempts ran)

    @property
    def published(self) -> bool:
        return bool(self.metrics)


def _json(raw: bytes | None) -> dict:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _config(raw: bytes | None) -> dict:
    try:
        value = yaml.safe_load(raw) if raw else {}
    except yaml.YAMLError:
        return {}
    return value if isinstance(value, dict) else {}


def read_folder(folder: Path, *, title: str | None = None, job: dict | None = None) -> RunRecord:
    """The record of a model folder (a download, or the trainer's export folder)."""
    folder = Path(folder)

    def raw(name: str) -> bytes | None:
        path = folder / name
        return path.read_bytes() if path.is_file() else None

    parts = {key: _json(raw(name)) for key, name in JSON_PARTS.items()}
    return RunRecord(title=title or folder.resolve().name, config=_config(raw(CONFIG_NAME)), job=job, **parts)


def read_run(store: ObjectStore, run_prefix: str, *, title: str, job: dict | None = None) -> RunRecord:
    """The record of a run in the store: its published model's small files, or, before it is
    published, the history so far."""

    def raw(key: str) -> bytes | None:
        try:
            return store.get_bytes(key)
        except NotFound:
            return None

    model = run_prefix + MODEL_DIR
    parts = {key: _json(raw(model + name)) for key, name in JSON_PARTS.items()}
    if not parts["history"]:
        parts["history"] = _json(raw(run_prefix + HISTORY_NAME))
    return RunRecord(title=title, config=_config(raw(model + CONFIG_NAME)), job=job,
                     progress=_json(raw(run_prefix + PROGRESS_NAME)), **parts)


# --- facts -----------------------------------------------------------------------------------------


@dataclass
class Curves:
    """The history's points, with what the charts mark on them."""

    steps: list[dict]
    evals: list[dict]
    attempt_numbers: list[int]
    origin: float  # wall-clock start of the first attempt (or the first point)
    marks: list[dict]  # {"step", "time", "attempt", "label"}: where an attempt resumed
    gaps: list[dict]  # {"from", "to", "attempt"}: wall time between an attempt's end and the next start
    best: dict | None  # the evaluation whose checkpoint was kept


def curves_of(history: dict, ends: dict[int, str] | None = None) -> Curves | None:
    """``ends``: how each attempt ended, when the job says it ("reclaimed", "stopped", "failed", ...)."""
    steps = [p for p in history.get("steps") or [] if isinstance(p, dict) and "step" in p and "loss" in p]
    evals = [p for p in history.get("evals") or [] if isinstance(p, dict) and "step" in p]
    if not steps and not evals:
        return None
    attempts = sorted((a for a in history.get("attempts") or [] if isinstance(a, dict)),
                      key=lambda a: a.get("attempt") or 0)
    numbers = sorted({p["attempt"] for p in steps + evals} | {a["attempt"] for a in attempts if a.get("attempt")})
    times = [p["time"] for p in steps + evals if p.get("time")]
    starts = [a["started_at"] for a in attempts if a.get("started_at")]
    origin = min(starts + times) if starts + times else 0.0
    marks, gaps = [], []
    for before, after in zip(attempts, attempts[1:]):
        how = (ends or {}).get(before.get("attempt")) or {
            "interrupted": "stopped on SIGTERM", "training": "killed without notice"}.get(before.get("state"), before.get("state"))
        resumed = after.get("resumed_from") or {}
        step = resumed.get("global_step")
        if step is None:  # builtin checkpoints say (epoch, step); the first point of the attempt says where
            first = [p["step"] for p in steps + evals if p["attempt"] == after.get("attempt")]
            step = min(first) if first else 0
        marks.append({"step": step, "time": after.get("started_at") or origin, "attempt": after.get("attempt"),
                      "label": f"attempt {after.get('attempt')} resumes (attempt {before.get('attempt')}: {how})"})
        end = before.get("ended_at") or max((p["time"] for p in steps + evals
                                              if p["attempt"] == before.get("attempt")), default=None)
        if end and after.get("started_at"):
            gaps.append({"from": end, "to": after["started_at"], "attempt": before.get("attempt")})
    scored = [p for p in evals if isinstance(p.get("accuracy"), (int, float))]
    best = None
    for point in scored:  # the trainers keep a new best on >=: the last of equal bests
        if best is None or point["accuracy"] >= best["accuracy"]:
            best = point
    return Curves(steps, evals, numbers, origin, marks, gaps, best)


def attempt_rows(record: RunRecord) -> list[dict]:
    """One row per attempt: when, how long, how it ended, on a GPU or not. The job's own record when
    the page is built for a job (Batch knows attempts the trainer never saw start), else the history's."""
    job = record.job or {}
    gpu_queue = "gpu" in str(job.get("queue") or "").lower()
    seen = {a.get("attempt"): a for a in record.history.get("attempts") or [] if isinstance(a, dict)}
    hosts = record.progress.get("hosts") if isinstance(record.progress.get("hosts"), dict) else {}
    rows = []
    for number, attempt in enumerate(job.get("attempts") or [], start=1):
        started, stopped = attempt.get("started_at"), attempt.get("stopped_at")
        host = hosts.get(str(number)) if isinstance(hosts.get(str(number)), dict) else {}
        instance = " ".join(str(host[k]) for k in ("instance_type", "lifecycle") if host.get(k))
        rows.append({"attempt": number, "started_at": started, "seconds": _seconds(started, stopped),
                     "ended": attempt.get("ended") or "", "reason": attempt.get("reason") or "", "gpu": gpu_queue,
                     "device": (seen.get(number) or {}).get("device") or ("GPU" if gpu_queue else "CPU"),
                     "instance": instance})
    if rows:
        return rows
    for number, attempt in sorted(seen.items(), key=lambda item: item[0] or 0):
        started, ended = attempt.get("started_at"), attempt.get("ended_at")
        rows.append({"attempt": number, "started_at": started, "seconds": _seconds(started, ended),
                     "ended": attempt.get("state") or "", "reason": "", "gpu": bool(attempt.get("gpu")),
                     "device": attempt.get("device") or ("GPU" if attempt.get("gpu") else "CPU"), "instance": ""})
    return rows


def images_of(record: RunRecord) -> list[str]:
    """The training images (container images) the attempts ran, as they recorded them."""
    return sorted({a["image"] for a in record.history.get("attempts") or [] if isinstance(a, dict) and a.get("image")})


def _seconds(start, stop) -> float | None:
    if isinstance(start, (int, float)) and isinstance(stop, (int, float)) and stop >= start:
        return round(stop - start, 1)
    return None


def gpu_hours(rows: list[dict]) -> float | None:
    """Hours the attempts held a GPU (attempts still running are not counted)."""
    spans = [r["seconds"] for r in rows if r["gpu"] and r["seconds"] is not None]
    return round(sum(spans) / 3600, 3) if spans else (0.0 if rows else None)


def cost_figures(metrics: dict) -> dict:
    """Whatever cost the run's metrics carry (``cost*`` keys); prices are not worked out here."""
    return {k: v for k, v in metrics.items() if k.startswith("cost") and v is not None}
