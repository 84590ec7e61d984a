"""Training speed of the paddleocr engine on this machine: samples/s and CPU-seconds per sample.

    PADDLEOCR_HOME=../shared/paddleocr/src .venv/bin/python bench/paddleocr_cpu_speed.py
    ... --models PP-OCRv5_mobile_rec --variants before default by-width --steps 6 --batch-size 32 \
    [--top-priority] [--gpu]

For each model and variant it writes the training config exactly as the engine does
(``contract.generate_config``), runs PaddleOCR's ``tools/train.py`` through our launcher on generated
data for one epoch of ``--steps`` steps, and reads PaddleOCR's own step lines. The first step (graph
warm-up, first batch) is left out. CPU-seconds are those of the whole process group (trainer and
DataLoader workers) between the first and the last step line, read from /proc, so a busy machine
shows mostly as lower samples/s (its shared caches still raise CPU-seconds per sample, by about a
quarter at load 8 on this 2-core machine). The load average is printed with it.
On a machine others share, ``--top-priority`` gives the trainer's session (Linux autogroup, root) the
top CPU weight, so that it runs about as on an idle machine while the load average stays high.

Variants (``--variants``; the first is the base of the ratios printed at the end):
- ``before``: what the engine wrote before the CPU defaults: as many DataLoader workers as CPUs, the
  backbone's four training branches (the figure the issue measured, 0.85 samples/s at batch 32);
- ``four-branch``: the local default but with four backbone branches (last session's fine-tuning);
- ``default``: the local CPU default (``local_cpu.cpu_settings``), fine-tuning and from scratch alike;
- ``threads``: the default with one paddle compute thread per CPU (``--set ocrbatch.cpu_threads=N``:
  the launcher calls paddle's ``set_num_threads`` and turns Intel OpenMP's spin-wait off);
- ``workers-0``: the default with the data pipeline in the trainer process (no DataLoader worker);
- ``by-width``: the default with batches as wide as their crops' mean aspect ratio (PaddleOCR's
  ``ds_width``; the ratio capped at the full width's, 320 px) instead of padded to 320 px;
- with ``--gpu``: ``amp-off`` and ``amp-on`` (``Global.use_amp``) on the first GPU instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ocrbatch.trainer.engines.paddleocr import contract  # noqa: E402

STEP = re.compile(r"epoch: \[\d+/\d+\], global_step: (\d+), .*avg_batch_cost: ([\d.]+) s, avg_samples: ([\d.]+)")
FOUR_BRANCHES = {"Architecture.Backbone.conv_kxk_num": "4"}
CPU_VARIANTS = {
    "before": dict(overrides={"Train.loader.num_workers": "{cpus}", "Eval.loader.num_workers": "{cpus}",
                              **FOUR_BRANCHES}),
    "four-branch": dict(overrides=FOUR_BRANCHES),
    "default": dict(overrides={}),
    "threads": dict(overrides={"ocrbatch.cpu_threads": "{cpus}"}),
    "workers-0": dict(overrides={"Train.loader.num_workers": "0"}),
    "by-width": dict(overrides={"Train.dataset.ds_width": "true", "Train.sampler.max_w": "320"}),
}
GPU_VARIANTS = {
    "amp-off": dict(overrides={}),
    "amp-on": dict(overrides={"Global.use_amp": "true"}),
}
DEFAULT_VARIANTS = ["before", "default"]


def group_cpu_seconds(pgid: int) -> float:
    """user+system seconds of every live process in the group (the trainer and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ... utime(11) stime(12)
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def make_data(folder: Path, task: str, count: int) -> Path:
    from ocrbatch.synth import generate_dataset

    if not (folder / "train.txt").exists():
        # Score crops of every look (7-segment alone draws narrower ones; widths matter to ds_width).
        generate_dataset(folder, count=count, seed=11, task=task, styles="scores", val_fraction=0.0, force=True)
    train = (folder / "train.txt").read_text().splitlines()
    (folder / "val.txt").write_text("\n".join(train[:2]) + "\n")  # a token eval: the bench times training
    return folder


def write_config(home: Path, model: str, variant: dict, *, steps: int, batch: int, work: Path, gpu: bool,
                 extra: dict | None = None) -> Path:
    """The training config the engine would write for this variant, on generated data."""
    task = contract.model_task(model)
    data = make_data(work / f"data-{task}-{batch * steps}", task, batch * steps)
    labels = [line.split("\t", 1)[1] for line in (data / "train.txt").read_text().splitlines()]
    characters = sorted(set("".join(labels))) if task == "rec" else ["0"]
    cpus = os.cpu_count() or 1
    run = work / f"{model}-{len(list(work.iterdir()))}"
    overrides = {k: v.format(cpus=cpus) for k, v in variant["overrides"].items()}
    overrides["Global.print_batch_step"] = "1"
    overrides.update(extra or {})
    config = contract.generate_config(
        contract.TrainingConfig.load(contract.base_config_path(home, model)),
        contract.ConfigInputs(
            model=model, data_dir=data, train_labels=data / "train.txt", val_labels=data / "val.txt",
            dict_file=contract.write_dict(characters, run / "dict.txt"), save_model_dir=run / "output",
            pretrained_model=None, use_gpu=gpu, epochs=1, batch_size=batch, num_workers=cpus,
            overrides=tuple(overrides.items()),
        ),
    )
    return config.write(run / "config.yml")


def take_the_machine(pid: int) -> None:
    """Give the trainer's session (its own autogroup: it and its DataLoader workers) the top CPU
    weight, so that on a machine others share it runs about as on an idle one (needs root)."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text("-20")
    except OSError as err:
        raise SystemExit(f"--top-priority: cannot raise the trainer's autogroup priority ({err})") from None


def measure(home: Path, model: str, variant: dict, *, steps: int, batch: int, work: Path, gpu: bool,
            top_priority: bool = False) -> dict:
    config_file = write_config(home, model, variant, steps=steps, batch=batch, work=work, gpu=gpu)
    run = config_file.parent
    command = contract.tool_command(home, "train", config_file)
    cpus = str(os.cpu_count() or 1)
    env = dict(os.environ, PYTHONUNBUFFERED="1", **{k: v.format(cpus=cpus) for k, v in variant.get("env", {}).items()})
    if not gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    process = subprocess.Popen(command, cwd=run, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    if top_priority:
        take_the_machine(process.pid)
    marks = []  # (global_step, batch seconds, samples, group CPU-seconds when the line came)
    for line in process.stdout:
        match = STEP.search(line)
        if match:
            marks.append((int(match.group(1)), float(match.group(2)), float(match.group(3)),
                          group_cpu_seconds(process.pid)))
            if len(marks) == steps:
                break
    load = os.getloadavg()[0]
    os.killpg(process.pid, signal.SIGKILL)  # the trainer and its DataLoader workers
    process.wait()
    if len(marks) < 2:
        raise SystemExit(f"{model}: fewer than 2 step lines; see {run / 'output' / 'train.log'}")
    timed = marks[1:]
    samples = sum(m[2] for m in timed)
    seconds = sum(m[1] for m in timed)
    cpu = marks[-1][3] - marks[0][3]
    return {"samples_per_s": samples / seconds, "cpu_s_per_sample": cpu / samples, "s_per_step": seconds / len(timed),
            "steps_timed": len(timed), "samples": samples, "load_avg_1m": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(contract.DEFAULT_MODELS.values()))
    parser.add_argument("--variants", nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=4, help="step lines to read (the first is not timed)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 32 for rec, 4 for det")
    parser.add_argument("--gpu", action="store_true", help="train on the first GPU (amp-off / amp-on)")
    parser.add_argument("--top-priority", action="store_true",
                        help="run the trainer at the top CPU weight (Linux autogroup, root): idle-machine figures on a shared one")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = Path(os.environ.get("PADDLEOCR_HOME", REPO.parent / "shared" / "paddleocr" / "src")).resolve()
    variants = GPU_VARIANTS if args.gpu else CPU_VARIANTS
    chosen = args.variants or (list(variants) if args.gpu else DEFAULT_VARIANTS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="paddleocr-speed-") as tmp:
        for model in args.models:
            batch = args.batch_size or (32 if contract.model_task(model) == "rec" else 4)
            for name in chosen:
                started = time.monotonic()
                row = {"model": model, "variant": name, "batch": batch,
                       **measure(home, model, variants[name], steps=args.steps, batch=batch, work=Path(tmp),
                                 gpu=args.gpu, top_priority=args.top_priority)}
                row["wall_s"] = round(time.monotonic() - started, 1)
                rows.append(row)
                if not args.json:
                    print(f"{model:22} {name:13} batch {batch:3}: {row['samples_per_s']:6.2f} samples/s, "
                          f"{row['cpu_s_per_sample']:6.3f} CPU-s/sample, {row['s_per_step']:6.1f} s/step "
                          f"({row['steps_timed']} steps; load {row['load_avg_1m']:.1f})", flush=True)
    for model in args.models:
        base = next((r for r in rows if r["model"] == model and r["variant"] == chosen[0]), None)
        for row in rows:
            if base and row["model"] == model and row is not base:
                row["speedup_vs_" + base["variant"]] = round(row["samples_per_s"] / base["samples_per_s"], 2)
                row["cpu_ratio_vs_" + base["variant"]] = round(base["cpu_s_per_sample"] / row["cpu_s_per_sample"], 2)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            ratios = {k: v for k, v in row.items() if k.startswith(("speedup_vs", "cpu_ratio_vs"))}
            if ratios:
                print(f"{row['model']} {row['variant']}: {ratios}")


if __name__ == "__main__":
    main()
