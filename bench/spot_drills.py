"""Spot reclaim drills: stop the trainer at random points, let the job retry, measure the training lost.

Each drill submits a local job (the same trainer, and the same retry rule as the Batch job definitions:
retry an attempt that was stopped or lost its host, exit otherwise), waits a random time into training,
then ends the trainer the way a reclaim does:

- ``notice``: SIGTERM, as the instance's Spot notice watcher sends it, then SIGKILL two minutes later
  (``ocrbatch.stop_window.SPOT_NOTICE_S``) if the trainer is still there: the instance is gone;
- ``no-notice``: SIGKILL alone (the host vanishes without warning).

The job's next attempt resumes from the newest checkpoint in the store. Per drill it reports the
training position at the kill, the position the next attempt resumed from, the steps and seconds of
training lost (measured here, and as the retried trainer recorded it in ``progress.json``), and whether
the final model is complete and reads an image through the stock paddleocr package.

    .venv/bin/python bench/spot_drills.py --runs 6                     # builtin engine
    .venv/bin/python bench/spot_drills.py --engine builtin --runs 2

Targets: with a notice, ``lost_steps_with_notice`` (0 for the builtin engine: it checkpoints on SIGTERM);
without one, at most one checkpoint interval of training. An engine joins the drills with a
:class:`DrillEngine` entry in ``ENGINES``: how to make its data, the overrides of a short run, and its
bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ocrbatch.stop_window import SPOT_NOTICE_S

MODES = ("notice", "no-notice")


@dataclass(frozen=True)
class DrillEngine:
    """What the drills need to know about one engine."""

    name: str
    prepare: Callable[[Path], str]  # home -> URI of a published dataset version to train on
    overrides: Callable[[float], dict]  # checkpoint interval (s) -> spec overrides for a short run
    epochs: int
    lost_steps_with_notice: int = 0  # the bound with a notice, in optimizer steps
    slack_seconds: float = 1.0  # measurement slack on the no-notice bound (progress is written every 0.1 s)
    model_name: str | None = None  # the paddleocr engine's base model, if any


@dataclass
class DrillResult:
    run: int
    engine: str
    mode: str
    killed_after_s: float
    position_at_kill: int  # optimizer steps done (the global step) when killed
    resumed_from: int | None
    lost_steps: int
    lost_seconds: float  # training time between the resumed checkpoint and the kill
    trainer_reported: dict | None  # the retried attempt's own record (progress.json "interruptions")
    signal_to_exit_s: float | None  # notice: SIGTERM to the trainer's exit
    attempts: int
    status: str
    model_reads: bool
    within_bound: bool = field(default=False)


def _position(values: dict) -> int:
    """Optimizer steps done. Progress and checkpoints both give the global count; their epochs differ
    (progress counts from 1, a checkpoint counts the epochs finished)."""
    return int(values.get("global_step") or 0)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def wait_until(condition, timeout: float, what: str):
    """The first truthy value of ``condition()``, polled every 50 ms; TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def run_drill(home: Path, engine: DrillEngine, dataset_uri: str, run: int, mode: str, rng: random.Random, *,
              checkpoint_every: float, check_model: bool = True) -> DrillResult:
    from ocrbatch.jobs.backend import JobRequest
    from ocrbatch.jobs.local import LocalBackend
    from ocrbatch.layout import RunLayout
    from ocrbatch.trainer.spec import TrainingSpec

    backend = LocalBackend(home)
    layout = RunLayout(f"drill-{engine.name}-{run}-{mode}")
    spec_values = dict(dataset=dataset_uri, output=backend.store.uri(layout.prefix), engine=engine.name,
                       epochs=engine.epochs, overrides=engine.overrides(checkpoint_every))
    if engine.model_name:
        spec_values["model"] = engine.model_name
    job = backend.submit(JobRequest(job_name=f"drill-{run}", spec=TrainingSpec(**spec_values), queue="cpu"))
    run_dir = backend.store.root / layout.prefix
    record = backend.jobs_dir / job.job_id / "job.json"

    progress = wait_until(lambda: (p := _read_json(run_dir / "progress.json")) and p.get("step") and p, 900, "training")
    started = time.monotonic()
    # A random point in the first few checkpoint intervals, but always before training ends: a kill
    # during export is not a drill of resuming training.
    eta = float(progress.get("eta_seconds") or 3.0 * checkpoint_every)
    time.sleep(rng.uniform(0.3, max(0.4, min(3.0 * checkpoint_every, 0.6 * eta))))
    pid = wait_until(lambda: _read_json(record).get("trainer_pid"), 60, "trainer pid")
    at_kill = _read_json(run_dir / "progress.json") or progress
    pointer = (_read_json(run_dir / "checkpoints" / "current.json") or {}).get("info") or {}
    # progress.json lags by up to its write interval; a checkpoint is proof of at least its position.
    position_at_kill = max(_position(at_kill), _position(pointer))
    killed_after = time.monotonic() - started
    signal_to_exit = None
    try:
        if mode == "no-notice":
            os.kill(pid, signal.SIGKILL)
        else:
            signalled = time.monotonic()
            os.kill(pid, signal.SIGTERM)
            deadline = signalled + SPOT_NOTICE_S
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.02)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)  # the two minutes are up: the instance is gone
            else:
                signal_to_exit = round(time.monotonic() - signalled, 2)
    except ProcessLookupError:
        pass  # it finished on its own first; counted as a kill with nothing to lose

    final = wait_until(lambda: (info := backend.describe(job.job_id)).done and info, 1800, "job end")
    final_progress = _read_json(run_dir / "progress.json") or {}
    resumed = final_progress.get("resumed_from")
    resumed_position = _position(resumed) if resumed else 0
    lost_steps = max(0, position_at_kill - resumed_position)
    per_step = (at_kill.get("elapsed_seconds") or 0) / max(1, position_at_kill)
    lost_seconds = round(lost_steps * per_step, 2)
    reported = (final_progress.get("interruptions") or [None])[0]
    model_reads = False
    if final.status == "SUCCEEDED" and check_model:
        model_reads = _model_reads(backend, final, home / "models" / job.job_id)
    bound_ok = (lost_steps <= engine.lost_steps_with_notice if mode == "notice"
                else lost_seconds <= checkpoint_every + engine.slack_seconds)
    return DrillResult(
        run=run, engine=engine.name, mode=mode, killed_after_s=round(killed_after, 2),
        position_at_kill=position_at_kill, resumed_from=resumed_position if resumed else None,
        lost_steps=lost_steps, lost_seconds=lost_seconds, trainer_reported=reported,
        signal_to_exit_s=signal_to_exit, attempts=len(final.attempts), status=final.status,
        model_reads=model_reads, within_bound=bound_ok,
    )


def _model_reads(backend, job, dest: Path) -> bool:
    from PIL import Image

    from ocrbatch.jobs.runs import download_model
    from ocrbatch.predict import predict_images

    download_model(backend, job, dest)
    probe = dest / "probe.png"
    Image.new("RGB", (120, 48), (0, 0, 0)).save(probe)
    predictions = predict_images(dest, [probe])
    return len(predictions) == 1 and isinstance(predictions[0].text, str)


def prepare_pinball_rec(home: Path, *, count: int = 240, seed: int = 5) -> str:
    from ocrbatch.datasets import publish_dataset
    from ocrbatch.jobs.local import local_store
    from ocrbatch.synth import generate_dataset

    data = home / "drill-data"
    if not (data / "train.txt").exists():
        generate_dataset(data, count=count, seed=seed, task="rec", styles=["seg7"], val_fraction=0.2)
    return publish_dataset(local_store(home), data, name="drills").uri


ENGINES: dict[str, DrillEngine] = {
    "builtin": DrillEngine(
        name="builtin",
        prepare=prepare_pinball_rec,
        overrides=lambda every: {"channels": "8,16,24,32", "hidden_size": "32", "seq_blocks": "1",
                                 "batch_size": "16", "checkpoint_every_seconds": str(every)},
        epochs=8,
    ),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=sorted(ENGINES), action="append",
                        help="engine to drill (repeatable; default: all)")
    parser.add_argument("--runs", type=int, default=6, help="drills per engine, alternating notice / no-notice")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=float, default=2.0)
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    os.environ["OCRBATCH_PROGRESS_INTERVAL"] = "0.1"  # a fresh position to measure the loss against
    home = args.home or Path(tempfile.mkdtemp(prefix="ocrbatch-drills-"))
    rng = random.Random(args.seed)
    results: list[DrillResult] = []
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    for name in args.engine or sorted(ENGINES):
        engine = ENGINES[name]
        dataset_uri = engine.prepare(home)
        for run in range(args.runs):
            result = run_drill(home, engine, dataset_uri, run, MODES[run % 2], rng,
                               checkpoint_every=args.checkpoint_every)
            results.append(result)
            print(json.dumps(asdict(result)), file=sys.stderr)
    print(f"{'engine':<9} {'run':>3} {'mode':<9} {'after s':>7} {'at step':>7} {'resumed':>7} {'lost steps':>10} "
          f"{'lost s':>6} {'trainer says':>12} {'exit s':>6} {'attempts':>8} {'status':<9} {'reads':<5} bound")
    for r in results:
        says = "-" if not r.trainer_reported else f"{r.trainer_reported.get('lost_steps')}st"
        print(f"{r.engine:<9} {r.run:>3} {r.mode:<9} {r.killed_after_s:>7} {r.position_at_kill:>7} "
              f"{str(r.resumed_from):>7} {r.lost_steps:>10} {r.lost_seconds:>6} {says:>12} "
              f"{str(r.signal_to_exit_s or '-'):>6} {r.attempts:>8} {r.status:<9} {str(r.model_reads):<5} "
              f"{'met' if r.within_bound else 'MISSED'}")
    ok = all(r.status == "SUCCEEDED" and r.model_reads and r.within_bound for r in results)
    for mode in MODES:
        lost = [r.lost_seconds for r in results if r.mode == mode]
        if lost:
            print(f"{mode}: worst lost training {max(lost)} s over {len(lost)} drills")
    print(f"bounds: notice {', '.join(f'{e.name} {e.lost_steps_with_notice} steps' for e in ENGINES.values())}; "
          f"no notice one checkpoint interval ({args.checkpoint_every} s); all finished, read images and met "
          f"the bounds: {ok}; wall {time.monotonic() - started:.0f} s, load average before {load_before:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
