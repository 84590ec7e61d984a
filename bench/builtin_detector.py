"""How well does the builtin detector find the text lines of a pinball display, and at what cost?

Trains ``--engine builtin --task det`` on generated frames of the ``train`` renderer set for a budget
of CPU seconds of the training thread (the same training on an idle or a shared machine), exports it,
and judges the export with stock ``paddleocr.TextDetection`` twice: on held-out frames of the same
renderers, and on frames drawn only by the held-out renderers (typefaces, segment and dot shapes,
camera effects never trained on). A found box counts when it overlaps a labelled line at IoU >= 0.5
(one to one); precision, recall and hmean as in PaddleOCR's det evaluation.

    .venv/bin/python bench/builtin_detector.py --cpu-seconds 300 --workdir /tmp/det-bench

The peer a user would pick is PaddleOCR's own PP-OCRv5_mobile_det trained from scratch: its CPU cost
per training sample is measured by ``bench/paddleocr_cpu_speed.py`` (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def frames(out_dir: Path, count: int, seed: int, renderers: str, val_fraction: float) -> Path:
    from ocrbatch.synth import generate_dataset

    if not (out_dir / "train.txt").is_file():
        generate_dataset(out_dir, count=count, seed=seed, task="det", renderers=renderers, val_fraction=val_fraction)
    return out_dir


def train(data: Path, out: Path, overrides: dict) -> dict:
    from ocrbatch.trainer.engines.base import LocalDataset, TrainContext
    from ocrbatch.trainer.engines.builtin import BuiltinEngine
    from ocrbatch.trainer.spec import TrainingSpec

    characters = json.loads((data / "synth.json").read_text())["characters"]
    dataset = LocalDataset(root=data, task="det", train_labels=data / "train.txt", val_labels=data / "val.txt",
                           characters=tuple(sorted(set(characters))), version=f"file://{data}")
    last = [0.0]

    def report(**values):
        if time.monotonic() - last[0] > 30:
            last[0] = time.monotonic()
            print(f"  step {values.get('global_step')}, loss {values.get('loss', float('nan')):.3f}, "
                  f"{values.get('elapsed_seconds', 0):.0f} s of training", flush=True)

    ctx = TrainContext(
        spec=TrainingSpec(dataset=dataset.version, output=f"file://{out}", task="det", overrides=overrides),
        dataset=dataset, workdir=out / "work", checkpoint_dir=out / "checkpoints", export_dir=out / "model",
        on_checkpoint=lambda info: None, report=report,
    )
    return BuiltinEngine().train(ctx).metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-seconds", type=float, default=300, help="training budget (training thread's CPU)")
    parser.add_argument("--frames", type=int, default=400, help="training frames (10%% kept for val)")
    parser.add_argument("--heldout-frames", type=int, default=100)
    parser.add_argument("--set", action="append", default=[], help="detector setting KEY=VALUE")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the generated frames here")
    args = parser.parse_args()
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from ocrbatch.trainer.engines.builtin.det_evaluation import stock_det_metrics

    work = args.workdir or Path(tempfile.mkdtemp(prefix="det-bench-"))
    own = frames(work / f"train-{args.frames}", args.frames, 21, "train", 0.1)
    held = frames(work / f"heldout-{args.heldout_frames}", args.heldout_frames, 22, "heldout", 0.5)
    overrides = {"max_train_seconds": str(args.cpu_seconds), "budget_clock": "cpu",
                 **dict(item.split("=", 1) for item in args.set)}
    load_before, wall, cpu = os.getloadavg(), time.monotonic(), resource.getrusage(resource.RUSAGE_SELF)
    out = Path(tempfile.mkdtemp(prefix="det-run-", dir=work))
    metrics = train(own, out, overrides)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    judged = {"own held-out": {k: metrics[k] for k in ("precision", "recall", "hmean")} | {"frames": metrics["eval_samples"]}}
    for split in ("train", "val"):
        result = stock_det_metrics(out / "model", held / f"{split}.txt", held)
        judged.setdefault("held-out renderers", []).append(result)
    both = judged["held-out renderers"]
    matched, found, labelled = (sum(r[k] for r in both) for k in ("matched", "found", "labelled"))
    precision, recall = matched / max(found, 1), matched / max(labelled, 1)
    judged["held-out renderers"] = {"precision": precision, "recall": recall,
                                    "hmean": 2 * precision * recall / max(precision + recall, 1e-9),
                                    "frames": sum(r["frames"] for r in both)}
    print(json.dumps({
        "settings": overrides, "train_frames": metrics["train_samples"], "global_step": metrics["global_step"],
        "train_cpu_seconds": metrics["train_seconds"], "parameters": metrics["parameters"],
        "cpu_seconds_per_sample": round(1 / max(metrics["images_per_second"], 1e-9), 4),
        "judged": {k: {m: round(v, 3) for m, v in d.items()} for k, d in judged.items()},
        "wall_seconds": round(time.monotonic() - wall, 1),
        "process_cpu_seconds": round(cpu_after.ru_utime + cpu_after.ru_stime - cpu.ru_utime - cpu.ru_stime, 1),
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
    }, indent=1))


if __name__ == "__main__":
    main()
