"""Spot reclaim drills for the paddleocr engine, on PaddleOCR's real training code, in local mode.

    PADDLEOCR_HOME=../shared/paddleocr/src .venv/bin/python bench/paddleocr_spot_drills.py \
        [--runs 2] [--save-every-minutes 1] [--kill-after 90]

Each drill submits a local job (rec, PP-OCRv5_mobile_rec from scratch on generated crops), lets it train
for ``--kill-after`` seconds (give or take a random 20 %), then ends the trainer as a reclaim does:

- ``notice``: SIGTERM (what the host's watcher sends on the two-minute Spot notice), then SIGKILL of
  everything 120 s later if anything is still running;
- ``no notice``: SIGKILL of the trainer and PaddleOCR's processes at once (the host is gone).

The retried attempt resumes from the newest checkpoint in the store. Lost training seconds are read
from PaddleOCR's own step lines: the training time between the step the resumed attempt starts from
and the moment of the kill. Targets (issue #17): with a notice at most one PaddleOCR logging
interval (here one step, ``Global.print_batch_step=1``); without one at most ``save_every_minutes``.
bench/spot_drills.py runs the same drills for the builtin engine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from spot_drills import wait_until  # noqa: E402 - the drills' own polling, one copy

NOTICE_S = 120
STEP_LINE = re.compile(r"^\[(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)\] ppocr INFO: epoch: \[\d+/\d+\], global_step: (\d+),", re.M)
RESUMED = re.compile(r"ocrbatch launcher: resuming at epoch \d+, step \d+ of it, global_step (\d+)")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _steps(text: str) -> list[tuple[float, int]]:
    """(unix time, global_step) of each step line."""
    return [(datetime.strptime(t, "%Y/%m/%d %H:%M:%S").timestamp(), int(step)) for t, step in STEP_LINE.findall(text)]


def _groups_of(pid: int) -> set[int]:
    """The process groups of ``pid`` and of its descendants (the launcher leads one of its own)."""
    children: dict[int, list[int]] = {}
    groups: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        child = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(child)
        groups[child] = int(fields[2])
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current in groups:
            found.add(groups[current])
        todo.extend(children.get(current, []))
    return found


def _kill_all(pid: int) -> None:
    for group in _groups_of(pid):
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run_drill(home: Path, dataset_uri: str, run: int, notice: bool, kill_after: float, *, epochs: int,
              save_every_minutes: float) -> dict:
    from ocrbatch.jobs.backend import JobRequest
    from ocrbatch.jobs.local import LocalBackend
    from ocrbatch.layout import RunLayout
    from ocrbatch.trainer.spec import TrainingSpec

    backend = LocalBackend(home)
    layout = RunLayout(f"paddleocr-drill-{run}")
    spec = TrainingSpec(
        dataset=dataset_uri, output=backend.store.uri(layout.prefix), engine="paddleocr", epochs=epochs,
        batch_size=8, from_scratch=True,
        overrides={"Global.print_batch_step": "1", "ocrbatch.save_every_minutes": str(save_every_minutes)},
    )
    job = backend.submit(JobRequest(job_name=f"paddleocr-drill-{run}", spec=spec, queue="cpu"))
    record, log_file = backend.jobs_dir / job.job_id / "job.json", backend.jobs_dir / job.job_id / "log.txt"

    wait_until(lambda: log_file.exists() and _steps(log_file.read_text()), 900, "the first step")
    time.sleep(kill_after)
    pid = wait_until(lambda: _read_json(record).get("trainer_pid"), 60, "trainer pid")
    killed_at = time.time()
    if notice:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + NOTICE_S
        while time.monotonic() < deadline and _read_json(record).get("trainer_pid") == pid:
            time.sleep(0.2)
        if _read_json(record).get("trainer_pid") == pid:
            _kill_all(pid)
    else:
        _kill_all(pid)

    final = wait_until(lambda: (info := backend.describe(job.job_id)).done and info, 3600, "the job's end")
    first, _, second = log_file.read_text().partition("--- attempt 2 ---")
    before = [(t, s) for t, s in _steps(first) if t <= killed_at]
    position = before[-1][1] if before else 0
    resumed = RESUMED.search(second)
    resumed_from = int(resumed.group(1)) if resumed else 0
    # Training time from the resumed step to the kill: the steps redone plus the step under way. A
    # resume at or past the last step logged before the kill (a save after the step under way) lost none.
    if resumed_from >= position:
        lost = 0.0
    else:
        start = next((t for t, s in before if s == resumed_from), before[0][0] if before else killed_at)
        lost = killed_at - start
    step_seconds = (before[-1][0] - before[0][0]) / max(1, len(before) - 1) if len(before) > 1 else None
    return {
        "run": run, "mode": "notice" if notice else "no notice", "killed_after_s": round(kill_after, 1),
        "step_at_kill": position, "resumed_from_step": resumed_from, "lost_steps": max(0, position - resumed_from),
        "lost_training_s": round(lost, 1), "step_s": round(step_seconds, 1) if step_seconds else None,
        "attempts": len(final.attempts), "status": final.status,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="alternating notice / no notice")
    parser.add_argument("--kill-after", type=float, default=90.0, help="seconds of training before the kill")
    parser.add_argument("--save-every-minutes", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--crops", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    os.environ.setdefault("PADDLEOCR_HOME", str(REPO.parent / "shared" / "paddleocr" / "src"))
    home = args.home or Path(tempfile.mkdtemp(prefix="ocrbatch-paddleocr-drills-"))
    data = home / "drill-data"
    if not (data / "train.txt").exists():
        from ocrbatch.synth import generate_dataset

        generate_dataset(data, count=args.crops, seed=args.seed, task="rec", styles=["seg7"], val_fraction=0.1)
    from ocrbatch.datasets import publish_dataset
    from ocrbatch.jobs.local import local_store

    dataset_uri = publish_dataset(local_store(home), data, name="paddleocr-drills").uri
    rng = random.Random(args.seed)
    results = []
    for run in range(args.runs):
        result = run_drill(home, dataset_uri, run, run % 2 == 0, args.kill_after * rng.uniform(0.8, 1.2),
                           epochs=args.epochs, save_every_minutes=args.save_every_minutes)
        results.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}; save_every_minutes {args.save_every_minutes}")
    print(f"{'run':>3} {'mode':<9} {'after s':>7} {'at step':>7} {'resumed':>7} {'lost steps':>10} {'lost s':>7} "
          f"{'step s':>6} {'attempts':>8} status")
    for r in results:
        print(f"{r['run']:>3} {r['mode']:<9} {r['killed_after_s']:>7} {r['step_at_kill']:>7} "
              f"{r['resumed_from_step']:>7} {r['lost_steps']:>10} {r['lost_training_s']:>7} {str(r['step_s']):>6} "
              f"{r['attempts']:>8} {r['status']}")
    ok = all(r["status"] == "SUCCEEDED" for r in results)
    for r in results:
        bound = (r["step_s"] or 0) * 1.5 if r["mode"] == "notice" else args.save_every_minutes * 60 + (r["step_s"] or 0)
        ok = ok and r["lost_training_s"] <= bound
    print(f"all finished within the bounds (notice: one step; no notice: save_every_minutes + one step): {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
