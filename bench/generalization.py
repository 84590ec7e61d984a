"""Does the reader generalize? A held-out-renderer protocol for pinball score models (issue 12).

A model that only learned its generator's renderer reads that renderer's held-out crops well and
anything else badly. So this protocol judges a model twice, per look, with the stock ``paddleocr``
package (exact match of the whole text; beside it, "digits": the same with the separators left out of
both, since a comma read as a period is a different miss from a wrong digit):

- **own held-out**: the usual split: unseen crops from the renderers the model trained on;
- **held-out renderers**: crops drawn only by renderer families the training data never used
  (``ocrbatch synth --renderers heldout``): other typeface families for LCD scores and DMD pixel fonts
  (Red Hat Display, Source Serif, Fjalla One vs Lato, Manrope, Source Sans, Hanken Grotesk, Caladea,
  Fredoka, Roboto, DejaVu, STIX, Computer Modern and the 5x7 font), square-ended segment bars, another
  set of segment geometries (both sets draw some displays with the tailless 6 and 9 and the hooked 7 of
  other decoder chips, held-out ones more often), square and smaller DMD dots with anti-aliased (4 or 16
  shade) fonts, and camera effects the training camera lacks (disc defocus blur, moire).

Looks: seg7, seg14 (14/16-segment), dmd, lcd (outline fonts on busy screens), and "photo": the crops
of any style taken like a phone photo (looser, rotated, low resolution, blurrier; ``*_photo.jpg``).

    .venv/bin/python bench/generalization.py                    # train the demo recipe, then judge it
    .venv/bin/python bench/generalization.py --model ./pinball-model   # judge an existing model
    .venv/bin/python bench/generalization.py --train-renderers all     # what training on both would hide

Training uses the builtin engine with the demo's recipe (fine-tuning the shipped base ``pinball-scores``,
which never saw the held-out families; ``--from-scratch``: random weights) and a budget of CPU seconds of the training
thread (the same training on an idle or a shared machine); the load average and the process's CPU
seconds are printed beside the wall time. ``--workdir`` keeps the generated data for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

LOOKS = ("seg7", "seg14", "dmd", "lcd", "photo")


def per_look(rows: list[tuple[str, str, str]]) -> dict[str, dict]:
    """rows of (image path, label, prediction) -> {look: {n, exact, digits}} (and "all")."""
    from ocrbatch.synth.generator import look_of

    grouped = []
    for path, label, text in rows:
        style, photo = look_of(path)
        grouped.append(((style, "photo", "all") if photo else (style, "all"), label, text))
    return tally(grouped)


def tally(rows: list[tuple[tuple[str, ...], str, str]]) -> dict[str, dict]:
    """rows of (groups, label, prediction) -> {group: {n, exact, digits}}, each row counted in each of
    its groups."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for groups, label, text in rows:
        for group in groups:
            counts[group][0] += 1
            counts[group][1] += int(label == text)
            counts[group][2] += int(_digits(label) == _digits(text))
    return {group: {"n": n, "exact": round(ok / n, 4), "digits": round(digits / n, 4)}
            for group, (n, ok, digits) in counts.items()}


def _digits(text: str) -> str:
    return text.replace(",", "").replace(".", "")


def generate(out_dir: Path, **settings) -> dict:
    """generate_dataset, or the summary of a complete earlier run with the same settings (--workdir)."""
    import json as json_module

    from ocrbatch.synth import DATA_VERSION, generate_dataset

    marker = out_dir / "synth.json"
    if marker.is_file():
        previous = json_module.loads(marker.read_text())
        wanted = {k: v for k, v in settings.items() if k not in ("styles", "val_fraction")}
        wanted["data_version"] = DATA_VERSION  # crops of an older generator are not these
        if previous.get("complete") and all(previous.get(k) == v for k, v in wanted.items()):
            return previous
    return generate_dataset(out_dir, task="rec", **settings)


def judge(model_dir: Path, data: Path, label_file: str) -> dict[str, dict]:
    from ocrbatch.predict import predict_images
    from ocrbatch.trainer.evaluation import read_labels

    pairs = read_labels(data / label_file, data)
    predictions = predict_images(model_dir, [path for path, _ in pairs], batch_size=64)
    return per_look([(str(path), label, p.text) for (path, label), p in zip(pairs, predictions)])


def train(data: Path, summary: dict, workdir: Path, seconds: float, overrides: dict,
          recipe: dict) -> tuple[Path, dict]:
    from ocrbatch.trainer.engines.base import LocalDataset, TrainContext
    from ocrbatch.trainer.engines.builtin import BuiltinEngine
    from ocrbatch.trainer.spec import TrainingSpec

    dataset = LocalDataset(root=data, task="rec", train_labels=data / "train.txt", val_labels=data / "val.txt",
                           characters=tuple(sorted(summary["characters"])), version="synth:generalization")
    run = workdir / "run"
    shutil.rmtree(run, ignore_errors=True)  # a fresh model, not a resumed one
    ctx = TrainContext(
        spec=TrainingSpec(dataset=dataset.version, output=f"file://{run}",
                          overrides={**recipe, "max_train_seconds": str(seconds), "budget_clock": "cpu",
                                     **overrides}),
        dataset=dataset, workdir=run / "work", checkpoint_dir=run / "checkpoints", export_dir=run / "export",
        on_checkpoint=lambda info: None, report=lambda **values: None,
    )
    result = BuiltinEngine().train(ctx)
    return ctx.export_dir, result.metrics


def main() -> int:
    parser = argparse.ArgumentParser(description="own held-out vs held-out-renderer exact match, per look")
    parser.add_argument("--model", type=Path, help="judge this model folder instead of training one")
    parser.add_argument("--train", type=int, default=24000, help="training crops (with --val of them held out)")
    parser.add_argument("--val", type=int, default=1500, help="own held-out crops")
    parser.add_argument("--heldout", type=int, default=1500, help="held-out-renderer crops")
    parser.add_argument("--styles", default="scores", help="synth styles or preset (default: scores, every look)")
    parser.add_argument("--train-renderers", default="train", choices=("train", "all"),
                        help="renderers of the training data (all: includes the held-out ones, for contrast)")
    parser.add_argument("--seconds", type=float, default=240.0,
                        help="training budget: CPU seconds of the training thread (--set budget_clock=wall: wall clock)")
    parser.add_argument("--from-scratch", action="store_true",
                        help="train from random weights (the demo starts from the shipped base)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="extra engine override")
    parser.add_argument("--workdir", type=Path, help="keep data and outputs here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args()

    from ocrbatch.trainer.spec import parse_overrides

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="generalization-"))
    styles = args.styles if args.styles in ("scores", "all") else args.styles.split(",")
    load_before = os.getloadavg()
    cpu_before, wall_before = time.process_time(), time.monotonic()
    report: dict = {"cpus": os.cpu_count(), "styles": args.styles, "train_renderers": args.train_renderers}

    heldout_dir = workdir / "heldout-renderers"
    started = time.monotonic()
    generate(heldout_dir, count=args.heldout, seed=args.seed + 1000, styles=styles, renderers="heldout",
             val_fraction=0.0)
    report["generate_heldout_seconds"] = round(time.monotonic() - started, 1)

    # The own split is generated for --model too (same seed, same crops as a trained run's), so a
    # model trained elsewhere (a base, say) is judged on both sides like one trained here.
    data = workdir / "train"
    started = time.monotonic()
    summary = generate(data, count=args.train + args.val, seed=args.seed, styles=styles,
                       renderers=args.train_renderers, val_fraction=args.val / (args.train + args.val))
    report["generate_train_seconds"] = round(time.monotonic() - started, 1)
    if args.model:
        model_dir = args.model
    else:
        cpu_train, started = time.process_time(), time.monotonic()
        from ocrbatch.demo import RECIPE, SCRATCH_RECIPE

        recipe = SCRATCH_RECIPE if args.from_scratch else RECIPE
        model_dir, metrics = train(data, summary, workdir, args.seconds, parse_overrides(args.set), recipe)
        report["training"] = {
            "wall_seconds": round(time.monotonic() - started, 1),
            "process_cpu_seconds": round(time.process_time() - cpu_train, 1),
            **{k: metrics.get(k) for k in ("train_seconds", "global_step", "images_per_second", "parameters",
                                            "accuracy", "eval_samples", "init_from")},
        }
    own = judge(model_dir, data, "val.txt")
    heldout = judge(model_dir, heldout_dir, "train.txt")
    load_after = os.getloadavg()
    report.update({
        "model": str(model_dir),
        "own_heldout": own,
        "heldout_renderers": heldout,
        "wall_seconds": round(time.monotonic() - wall_before, 1),
        "process_cpu_seconds": round(time.process_time() - cpu_before, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    })
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"model {model_dir}; {report['cpus']} CPUs, load average {load_before[0]:.1f} -> {load_after[0]:.1f}, "
          f"{report['wall_seconds']} s wall, {report['process_cpu_seconds']} s CPU (this process)")
    if "training" in report:
        t = report["training"]
        print(f"trained {t['train_seconds']} s ({t['global_step']} steps, {t['images_per_second']} img/s, "
              f"{t['parameters']} parameters) on {args.train_renderers} renderers, "
              f"starting from {t['init_from'] or 'random weights'}")
    print(f"{'look':<7} {'own held-out':>24} {'held-out renderers':>24}   (exact, digits only: of crops)")
    for look in (*LOOKS, "all"):
        cells = []
        for table in (own, heldout):
            entry = (table or {}).get(look)
            cells.append("-" if entry is None else f"{entry['exact']:.1%}, {entry['digits']:.1%}: {entry['n']}")
        print(f"{look:<7} {cells[0]:>24} {cells[1]:>24}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
