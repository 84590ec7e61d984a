"""Hyperparameter sweeps: many runs of one dataset as ONE job, a Batch array job (or local children).

``ocrbatch sweep --grid learning-rate=0.001,0.003 --grid batch-size=32,64`` plans the children (the
grid's product, or ``--random N`` draws over ``--range`` bounds, seeded), refuses any child that
`submit` would refuse (the same :func:`~ocrbatch.jobs.submission.training_spec`), writes the sweep
manifest (``SweepLayout.manifest``: each child's settings and the spec fields it changes), and submits
one job whose spec names the manifest. Every child of it reads its own changes there by its array
index (``ocrbatch.trainer.spec.sweep_child``) and is a full run in its own folder: checkpoints, Spot
resume, artifact, metrics.

Reading a sweep back (``monitor``, ``list``, ``sweep results``, ``download --best``) is
``ocrbatch.jobs.sweep_results``.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import time
from dataclasses import dataclass, replace

from ocrbatch.errors import BadInput
from ocrbatch.jobs.backend import JobBackend, JobInfo, JobRequest
from ocrbatch.jobs.runs import new_run_id
from ocrbatch.jobs.submission import (
    SubmitUnanswered, TrainingOptions, sent_but_unanswered, check_job_options, checked_job_name, job_request,
    training_spec,
)
from ocrbatch.layout import SweepLayout, child_location
from ocrbatch.storage import ObjectStore
from ocrbatch.trainer.spec import SWEEPABLE, TrainingSpec

# Batch's limit for an array job; the same holds in local mode so a sweep moves between backends.
MAX_CHILDREN = 10_000
# Local children each wait in a runner process of their own (a few tens of MB): bounded here.
MAX_LOCAL_CHILDREN = 100

# The keys a sweep varies, as `submit` spells its flags: key -> (TrainingOptions field, value type).
_OPTION_KEYS = {
    "engine": ("engine", str),
    "task": ("task", str),
    "model": ("model", str),
    "epochs": ("epochs", int),
    "learning-rate": ("learning_rate", float),
    "batch-size": ("batch_size", int),
    "from-scratch": ("from_scratch", bool),
}
_ALIASES = {"config-learning-rate": "learning-rate", "config-batch-size": "batch-size"}
# The same for every child of one job: Batch gives an array job one queue, definition and dataset.
_PER_SWEEP = ("dataset", "training-data", "dataset-name", "val-fraction", "include-unchecked", "skip-bad",
              "queue", "gpus", "job-name", "job-queue", "job-definition")
_VALUE_SPLIT = re.compile(r",(?![^\[\(]*[\]\)])")  # commas outside [..] or (..): `channels=[16,32],[8,16]`


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def draw(self, rng: random.Random):
        if self.log:
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        else:
            value = rng.uniform(self.low, self.high)
        return round(value) if self.integer else float(f"{value:.6g}")


@dataclass(frozen=True)
class SweepChild:
    index: int
    settings: dict  # sweep key -> value, as the user named them
    spec: TrainingSpec


@dataclass(frozen=True)
class SweepPlan:
    sweep_id: str
    sweep_uri: str  # the sweep's folder; its children's runs sit beside it
    manifest_uri: str
    job_name: str
    method: str  # "grid" or "random"
    seed: int | None
    base: TrainingSpec  # what every child is given (the manifest names each child's changes)
    options: TrainingOptions
    children: tuple[SweepChild, ...]

    @property
    def size(self) -> int:
        return len(self.children)

    def manifest(self, *, backend: str, job_id: str | None = None) -> dict:
        base = self.base.to_json()
        return {
            "sweep_id": self.sweep_id,
            "job_name": self.job_name,
            "job_id": job_id,
            "backend": backend,
            "method": self.method,
            "seed": self.seed,
            "size": self.size,
            "base": base,
            "children": [
                {
                    "index": child.index,
                    "run_uri": child.spec.output,
                    "settings": child.settings,
                    "changes": {k: v for k, v in child.spec.to_json().items() if k in SWEEPABLE and v != base[k]},
                }
                for child in self.children
            ],
            "created_at": time.time(),
        }


# --- what the user asks for ----------------------------------------------------------------------


def sweep_key(raw: str) -> str:
    """A sweep key as `submit` spells it (``learning-rate``), or an engine config key as ``--set`` takes it."""
    key = raw.strip()
    if not key:
        raise BadInput("a sweep key is empty: use KEY=VALUES such as learning-rate=0.001,0.003")
    flag = _ALIASES.get(key.replace("_", "-").lower().lstrip("-"), key.replace("_", "-").lower().lstrip("-"))
    if flag in _OPTION_KEYS:
        return flag
    if flag in _PER_SWEEP:
        raise BadInput(f"{key} is the same for every child of a sweep: pass it once as --{flag}, not in --grid/--range")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\[\]-]*", key):
        raise BadInput(f"{key!r} is not a sweep key: use a submit option (epochs, learning-rate, ...) or a --set key")
    return key  # an engine config key: the engine's own check (as for --set) decides whether it knows it


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["learning-rate=0.001,0.003", "Global.use_amp=true,false"]`` -> {key: [typed values]}."""
    grid: dict[str, list] = {}
    for item in items:
        raw_key, sep, text = item.partition("=")
        if not sep:
            raise BadInput(f"--grid {item!r} must look like KEY=V1,V2,...")
        key = sweep_key(raw_key)
        if key in grid:
            raise BadInput(f"--grid names {key} twice: give all its values in one --grid {key}=V1,V2,...")
        values = [value.strip() for value in _VALUE_SPLIT.split(text)]
        if not text.strip() or any(not value for value in values):
            raise BadInput(f"--grid {item!r}: every value must be given (KEY=V1,V2,... with no empty value)")
        grid[key] = [typed_value(key, value) for value in values]
    return grid


def parse_ranges(items: list[str]) -> dict[str, Range]:
    """``["learning-rate=1e-4:1e-2:log", "batch-size=16:128"]`` -> {key: Range}."""
    ranges: dict[str, Range] = {}
    for item in items:
        raw_key, sep, text = item.partition("=")
        parts = text.split(":")
        if not sep or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip() != "log"):
            raise BadInput(f"--range {item!r} must look like KEY=LOW:HIGH or KEY=LOW:HIGH:log")
        key = sweep_key(raw_key)
        if key in ranges:
            raise BadInput(f"--range names {key} twice")
        kind = _OPTION_KEYS[key][1] if key in _OPTION_KEYS else None
        if kind in (str, bool):
            raise BadInput(f"--range {key}: {key} is not a number; sweep it with --grid {key}=V1,V2")
        try:
            low, high = float(parts[0]), float(parts[1])
        except ValueError:
            raise BadInput(f"--range {item!r}: LOW and HIGH must be numbers") from None
        log = len(parts) == 3
        if not low < high or (log and low <= 0):
            raise BadInput(f"--range {item!r}: LOW must be below HIGH" + (" and above 0 for :log" if log else ""))
        integer = kind is int or (kind is None and all(re.fullmatch(r"\s*-?\d+\s*", p) for p in parts[:2]))
        ranges[key] = Range(low, high, log, integer)
    return ranges


def typed_value(key: str, text: str):
    kind = _OPTION_KEYS[key][1] if key in _OPTION_KEYS else str
    try:
        if kind is bool:
            if text.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            return text.lower() == "true"
        return kind(text)
    except ValueError:
        raise BadInput(f"--grid {key}: {text!r} is not a{'n integer' if kind is int else ' number' if kind is float else ' true/false'}") from None


def child_settings(
    grid: dict[str, list], ranges: dict[str, Range], *, random_count: int | None, seed: int | None
) -> list[dict]:
    """Every child's settings: the grid's product, or ``random_count`` draws (grid keys drawn from
    their values, ranges uniformly, log-uniformly with ``:log``), counted before any is made."""
    if random_count is None:
        if ranges:
            raise BadInput("--range draws values for --random N: add --random N, or use --grid")
        if not grid:
            raise BadInput("nothing to sweep: give --grid KEY=V1,V2,... (repeatable) and/or --random N with --range")
        count = math.prod(len(values) for values in grid.values())
        _check_count(count, "the grid makes")
        return [dict(zip(grid, combination)) for combination in itertools.product(*grid.values())]
    if random_count < 1:
        raise BadInput(f"--random must be 1 or more, got {random_count}")
    _check_count(random_count, "--random asks for")
    if not grid and not ranges:
        raise BadInput("--random N draws from --range KEY=LOW:HIGH[:log] and --grid KEY=V1,V2: give at least one")
    rng = random.Random(seed)
    draws = []
    for _ in range(random_count):
        settings = {key: rng.choice(values) for key, values in grid.items()}
        settings.update({key: bounds.draw(rng) for key, bounds in ranges.items()})
        draws.append(settings)
    return draws


def _check_count(count: int, what: str) -> None:
    if count > MAX_CHILDREN:
        raise BadInput(f"{what} {count:,} children; a sweep has at most {MAX_CHILDREN:,} (Batch's array job limit)")


def options_for(base: TrainingOptions, settings: dict) -> TrainingOptions:
    """The training options of one child: the sweep's, with the child's settings applied."""
    named = {_OPTION_KEYS[key][0]: value for key, value in settings.items() if key in _OPTION_KEYS}
    overrides = {key: str(value) for key, value in settings.items() if key not in _OPTION_KEYS}
    if overrides:
        named["overrides"] = {**(base.overrides or {}), **overrides}
    return replace(base, **named)


# --- planning and submitting ---------------------------------------------------------------------


def plan_sweep(
    store: ObjectStore,
    dataset_uri: str,
    options: TrainingOptions,
    settings: list[dict],
    *,
    dataset_task: str | None = None,
    method: str = "grid",
    seed: int | None = None,
    now: float | None = None,
) -> SweepPlan:
    """Every child checked as `submit` checks a run; nothing is written or submitted."""
    job_name = checked_job_name(options, dataset_uri)
    sweep_id = new_run_id(f"{job_name}-sweep", now=now)
    layout = SweepLayout(sweep_id)
    sweep_uri, manifest_uri = store.uri(layout.prefix), store.uri(layout.manifest)
    children = []
    for index, values in enumerate(settings):
        try:
            spec = training_spec(
                dataset_uri, child_location(sweep_uri, index), options_for(options, values),
                dataset_task=dataset_task, sweep=manifest_uri,
            )
        except BadInput as refused:
            shown = ", ".join(f"{key}={value}" for key, value in values.items())
            raise BadInput(f"sweep child {index} ({shown}): {refused}") from None
        children.append(SweepChild(index, values, spec))
    first = children[0].spec
    # What every child is given: the first child's spec in the sweep's folder; the others' changes
    # to it are in the manifest. Placement is the sweep's own (one queue for the whole array).
    base = TrainingSpec(**{**first.to_json(), "output": sweep_uri})
    check_job_options(options)
    placed = replace(options, job_name=job_name)
    return SweepPlan(sweep_id, sweep_uri, manifest_uri, job_name, method, seed, base, placed, tuple(children))


def sweep_request(plan: SweepPlan, *, slots: int = 1) -> JobRequest:
    """The one job of a sweep (what ``sweep --dry-run`` shows): ``slots`` children train at once locally."""
    return replace(job_request(plan.job_name, plan.base, plan.options, array_size=plan.size), slots=slots)


def submit_sweep(backend: JobBackend, plan: SweepPlan, *, slots: int = 1) -> JobInfo:
    """Write the manifest, submit the one job, then record its id in the manifest (as a run's record)."""
    store = backend.store
    key = SweepLayout(plan.sweep_id).manifest
    if backend.name == "local" and plan.size > MAX_LOCAL_CHILDREN:
        raise BadInput(
            f"a local sweep runs at most {MAX_LOCAL_CHILDREN} children (each waits in a process of its own); "
            f"this one has {plan.size}: run it on AWS (--aws), or sweep fewer settings"
        )
    store.put_bytes(key, _encode(plan.manifest(backend=backend.name)))
    try:
        job = backend.submit(sweep_request(plan, slots=slots))
    except BaseException as exc:
        if sent_but_unanswered(exc):
            raise SubmitUnanswered(plan.job_name, plan.sweep_uri, exc) from exc
        try:
            store.delete(key)  # nothing runs for this manifest
        except Exception:  # noqa: BLE001 - the submit error is the one worth reporting
            pass
        raise
    store.put_bytes(key, _encode(plan.manifest(backend=backend.name, job_id=job.job_id)))
    return job


def _encode(manifest: dict) -> bytes:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()


def describe_settings(settings: dict) -> str:
    return " ".join(f"{key}={value}" for key, value in settings.items()) or "-"
