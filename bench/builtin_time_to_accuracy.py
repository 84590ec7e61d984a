"""Time to accuracy of the builtin engine on generated pinball score crops (issue 4's benchmark).

Generates a fixed-seed dataset with ``ocrbatch.synth`` (20k train / 1k held-out by default, the
demo's scores on every display look), trains the builtin engine with the demo's recipe
(``ocrbatch.demo.RECIPE``) under a training budget (120 s of training-thread CPU by default), and prints
held-out exact-match accuracy against training seconds. Rows come from the run's history (what
``history.json`` holds): evaluations every ``--eval-every`` steps (their time is not training time);
the last row is the exported model judged by the stock ``paddleocr.TextRecognition`` on the same
held-out images. The rows are a learning
curve, not what a run with that budget reaches: the one-cycle schedule anneals only at the end.

    .venv/bin/python bench/builtin_time_to_accuracy.py            # every look, 120 CPU-s
    .venv/bin/python bench/builtin_time_to_accuracy.py --styles seg7 --seconds 300 --json
    .venv/bin/python bench/builtin_time_to_accuracy.py --engine-defaults --set budget_clock=wall

On a shared machine wall figures are pessimistic: the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description="builtin engine: held-out accuracy vs training seconds")
    parser.add_argument("--train", type=int, default=20000, help="training crops")
    parser.add_argument("--val", type=int, default=1000, help="held-out crops")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--styles", default="scores", help="comma-separated synth styles, or a preset (scores, all)")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="training budget: CPU seconds of the training thread (--set budget_clock=wall: wall clock)")
    parser.add_argument("--engine-defaults", action="store_true", help="the engine's defaults, not the demo's recipe")
    parser.add_argument("--eval-every", type=int, default=50, help="steps between held-out evaluations")
    parser.add_argument("--threads", type=int, help="Paddle CPU threads (default: the engine's; 0: one per core)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra engine override")
    parser.add_argument("--workdir", type=Path, help="keep data and outputs here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args()

    from ocrbatch.demo import RECIPE
    from ocrbatch.synth import generate_dataset
    from ocrbatch.trainer.engines.base import LocalDataset, TrainContext
    from ocrbatch.trainer.engines.builtin import BuiltinEngine
    from ocrbatch.trainer.spec import TrainingSpec, parse_overrides

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="builtin-bench-"))
    data = workdir / "data"
    styles = args.styles.split(",") if "," in args.styles or args.styles not in ("scores", "all") else args.styles
    started = time.monotonic()
    summary = generate_dataset(data, count=args.train + args.val, seed=args.seed, task="rec", styles=styles,
                               renderers="train", val_fraction=args.val / (args.train + args.val))
    generate_seconds = time.monotonic() - started
    dataset = LocalDataset(root=data, task="rec", train_labels=data / "train.txt", val_labels=data / "val.txt",
                           characters=tuple(sorted(summary["characters"])), version=f"synth:{args.styles}:{args.seed}")

    overrides = {**({} if args.engine_defaults else RECIPE), "budget_clock": "cpu",
                 "max_train_seconds": str(args.seconds), "eval_every_steps": str(args.eval_every)}
    if args.threads is not None:
        overrides["cpu_threads"] = str(args.threads)
    overrides.update(parse_overrides(args.set))
    run = workdir / "run"
    ctx = TrainContext(
        spec=TrainingSpec(dataset=dataset.version, output=f"file://{run}", overrides=overrides),
        dataset=dataset, workdir=run / "work", checkpoint_dir=run / "checkpoints", export_dir=run / "export",
        on_checkpoint=lambda info: None, report=lambda **values: None,
    )
    load_before = os.getloadavg()
    result = BuiltinEngine().train(ctx)
    load_after = os.getloadavg()
    metrics = result.metrics

    rows = curve(ctx.history.to_json(), metrics["train_seconds"] / max(1, metrics["global_step"]))
    report = {
        "styles": summary["styles"], "train": summary["splits"]["train"], "val": summary["splits"]["val"],
        "characters": summary["characters"], "generate_seconds": round(generate_seconds, 1),
        "budget_seconds": args.seconds, "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "rows": rows,
        "exported": {k: metrics.get(k) for k in ("accuracy", "norm_edit_distance", "eval_samples", "eval_seconds",
                                                  "train_seconds", "global_step", "images_per_second",
                                                  "parameters", "best_epoch")},
        "export_dir": str(ctx.export_dir),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"builtin engine, {report['train']} train / {report['val']} held-out {','.join(report['styles'])} "
          f"crops, {report['cpus']} CPUs, load average {load_before[0]:.1f} -> {load_after[0]:.1f}")
    print(f"{'train s':>8} {'step':>6} {'loss':>8} {'held-out exact':>15} {'norm edit dist':>15}")
    for row in rows:
        accuracy = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        distance = "-" if row["norm_edit_distance"] is None else f"{row['norm_edit_distance']:.4f}"
        print(f"{row['train_seconds']:8.1f} {row['step']:6d} {row['loss']:8.4f} {accuracy:>15} {distance:>15}")
    e = report["exported"]
    print(f"exported model via stock paddleocr.TextRecognition: exact match {e['accuracy']:.3f}, "
          f"norm edit distance {e['norm_edit_distance']:.4f} on {e['eval_samples']} held-out crops "
          f"(train {e['train_seconds']} s, {e['global_step']} steps, {e['images_per_second']} img/s, "
          f"{e['parameters']} parameters)")
    return 0


def curve(history: dict, seconds_per_step: float) -> list[dict]:
    """One row per held-out evaluation of the run's history (what history.json holds): its step, the
    training seconds to it (pro rata: steps cost the same CPU time under a CPU budget) and the mean
    training loss of the last step point before it."""
    rows = []
    for point in history["evals"]:
        losses = [s["loss"] for s in history["steps"] if s["step"] <= point["step"]]
        rows.append({"train_seconds": round(point["step"] * seconds_per_step, 1), "step": point["step"],
                     "loss": losses[-1] if losses else float("nan"), "accuracy": point.get("accuracy"),
                     "norm_edit_distance": point.get("norm_edit_distance")})
    return rows


if __name__ == "__main__":
    sys.exit(main())
