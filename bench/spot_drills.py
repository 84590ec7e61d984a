"""Spot reclaim drills: kill the trainer at random points, let the job retry, measure the work lost.

Each drill submits a local job (the same trainer and retry rule as on AWS Batch), waits a random time
into training, then kills the trainer the way a reclaim does: SIGTERM followed by SIGKILL after a
grace period (ECS's stopTimeout), or SIGKILL alone (the host vanishes). The job's next attempt resumes
from the newest checkpoint in the store. Per kill it reports the training position at the kill, the
position the next attempt resumed from, the steps and seconds of training lost, and whether the final
model is complete and reads images through the stock paddleocr package.

    .venv/bin/python bench/spot_drills.py --runs 6

The bound checked: no kill loses more than one checkpoint interval (``--checkpoint-every`` seconds of
training; a SIGTERM with time to spare loses nothing, as the trainer checkpoints on it).
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
from dataclasses import asdict, dataclass
from pathlib import Path

TINY = {"channels": "8,16,24,32", "hidden_size": "32", "seq_blocks": "1", "batch_size": "16"}
GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL; ECS's default stopTimeout is 30 s


@dataclass
class DrillResult:
    run: int
    mode: str
    killed_after_s: float
    position_at_kill: int  # optimizer steps done (epoch * steps_per_epoch + step) when killed
    resumed_from: int | None
    lost_steps: int
    lost_seconds: float  # training time between the resumed checkpoint and the kill
    attempts: int
    status: str
    model_reads: bool


def _position(values: dict, steps_per_epoch: int) -> int:
    return int(values.get("epoch") or 0) * steps_per_epoch + int(values.get("step") or 0)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


def run_drill(home: Path, dataset_uri: str, run: int, mode: str, rng: random.Random, *,
              epochs: int, checkpoint_every: float, check_model: bool = True) -> DrillResult:
    from ocrbatch.jobs.backend import JobRequest
    from ocrbatch.jobs.local import LocalBackend
    from ocrbatch.layout import RunLayout
    from ocrbatch.trainer.spec import TrainingSpec

    backend = LocalBackend(home)
    layout = RunLayout(f"drill-{run}-{mode.lower().replace('+', '-')}")
    spec = TrainingSpec(
        dataset=dataset_uri, output=backend.store.uri(layout.prefix), epochs=epochs,
        overrides={**TINY, "checkpoint_every_seconds": str(checkpoint_every)},
    )
    job = backend.submit(JobRequest(job_name=f"drill-{run}", spec=spec, queue="cpu"))
    run_dir = backend.store.root / layout.prefix
    record = backend.jobs_dir / job.job_id / "job.json"

    progress = _wait(lambda: (p := _read_json(run_dir / "progress.json")) and p.get("step") and p, 600, "training")
    steps_per_epoch = int(progress["steps_per_epoch"])
    started = time.monotonic()
    # A random point in the first few checkpoint intervals, but always before training ends: a kill
    # during export is not a drill of resuming training.
    eta = float(progress.get("eta_seconds") or 3.0 * checkpoint_every)
    time.sleep(rng.uniform(0.3, max(0.4, min(3.0 * checkpoint_every, 0.6 * eta))))
    pid = _wait(lambda: _read_json(record).get("trainer_pid"), 60, "trainer pid")
    at_kill = _read_json(run_dir / "progress.json") or progress
    pointer = (_read_json(run_dir / "checkpoints" / "current.json") or {}).get("info") or {}
    # progress.json lags by up to its write interval; a checkpoint is proof of at least its position.
    position_at_kill = max(_position(at_kill, steps_per_epoch), _position(pointer, steps_per_epoch))
    killed_after = time.monotonic() - started
    try:
        if mode == "SIGKILL":
            os.kill(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + GRACE_SECONDS
            while time.monotonic() < deadline and _read_json(record).get("trainer_pid") == pid:
                time.sleep(0.05)
            if _read_json(record).get("trainer_pid") == pid:
                os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it finished on its own first; counted as a kill with nothing to lose

    final = _wait(lambda: (info := backend.describe(job.job_id)).done and info, 900, "job end")
    final_progress = _read_json(run_dir / "progress.json") or {}
    resumed = final_progress.get("resumed_from")
    resumed_position = _position(resumed, steps_per_epoch) if resumed else 0
    lost_steps = max(0, position_at_kill - resumed_position)
    per_step = (at_kill.get("elapsed_seconds") or 0) / max(1, position_at_kill)
    model_reads = False
    if final.status == "SUCCEEDED" and check_model:
        model_reads = _model_reads(backend, final, home / "models" / job.job_id, dataset_uri)
    return DrillResult(
        run=run, mode=mode, killed_after_s=round(killed_after, 2), position_at_kill=position_at_kill,
        resumed_from=resumed_position if resumed else None, lost_steps=lost_steps,
        lost_seconds=round(lost_steps * per_step, 2), attempts=len(final.attempts), status=final.status,
        model_reads=model_reads,
    )


def _model_reads(backend, job, dest: Path, dataset_uri: str) -> bool:
    from ocrbatch.jobs.runs import download_model
    from ocrbatch.predict import predict_images
    from ocrbatch.storage import split_uri

    download_model(backend, job, dest)
    # One held-out image from the fetched dataset cache is enough to prove the model loads and reads.
    _, root, key = split_uri(dataset_uri)
    images = sorted(Path(root).rglob("*.jpg"))[:1]
    if not images:
        from PIL import Image

        images = [dest / "probe.png"]
        Image.new("RGB", (120, 48), (0, 0, 0)).save(images[0])
    predictions = predict_images(dest, images)
    return len(predictions) == 1 and isinstance(predictions[0].text, str)


def prepare(home: Path, *, count: int = 240, seed: int = 5) -> str:
    from ocrbatch.datasets import publish_dataset
    from ocrbatch.jobs.local import local_store
    from ocrbatch.synth import generate_dataset

    data = home / "drill-data"
    if not (data / "train.txt").exists():
        generate_dataset(data, count=count, seed=seed, task="rec", styles=["seg7"], val_fraction=0.2)
    return publish_dataset(local_store(home), data, name="drills").uri


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--checkpoint-every", type=float, default=2.0)
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    os.environ["OCRBATCH_PROGRESS_INTERVAL"] = "0.1"  # a fresh position to measure the loss against
    home = args.home or Path(tempfile.mkdtemp(prefix="ocrbatch-drills-"))
    dataset_uri = prepare(home)
    rng = random.Random(args.seed)
    results = []
    for run in range(args.runs):
        mode = ("SIGTERM+SIGKILL", "SIGKILL")[run % 2]
        result = run_drill(home, dataset_uri, run, mode, rng, epochs=args.epochs,
                           checkpoint_every=args.checkpoint_every)
        results.append(result)
        print(json.dumps(asdict(result)), file=sys.stderr)
    print(f"{'run':>3} {'kill':<16} {'after s':>7} {'at step':>7} {'resumed':>7} {'lost steps':>10} "
          f"{'lost s':>6} {'attempts':>8} {'status':<9} reads")
    for r in results:
        print(f"{r.run:>3} {r.mode:<16} {r.killed_after_s:>7} {r.position_at_kill:>7} {str(r.resumed_from):>7} "
              f"{r.lost_steps:>10} {r.lost_seconds:>6} {r.attempts:>8} {r.status:<9} {r.model_reads}")
    worst = max(r.lost_seconds for r in results)
    ok = all(r.status == "SUCCEEDED" and r.model_reads for r in results) and worst <= args.checkpoint_every + 1
    print(f"worst lost work: {worst} s of training (bound: one checkpoint interval, {args.checkpoint_every} s); "
          f"all finished and read images: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
