"""Does fine-tuning with one backbone branch per layer learn like fine-tuning all four?

    PADDLEOCR_HOME=../shared/paddleocr/src .venv/bin/python bench/paddleocr_branch_fold.py \
        --pretrain-steps 40 --steps 24 --batch-size 16

PP-OCRv5_mobile_rec's PPLCNetV3 backbone trains four parallel kxk branches per layer; pretrained
weights have all four. The local CPU default trains one, with the pretrained four folded into it
(``launcher.fold_branches``). No official weights can be fetched here, so the "pretrained" model is
made first: a four-branch run from scratch on 7-segment crops (``--pretrain-steps``). Both
variants then fine-tune from it on other crops (every look the generator draws, another seed), with
the same seed, data order and learning rate, and print PaddleOCR's unsmoothed loss for every step,
the CPU-seconds per sample and the first and last losses side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ocrbatch.trainer.engines.paddleocr import contract, log_lines  # noqa: E402
from paddleocr_cpu_speed import group_cpu_seconds  # noqa: E402

MODEL = "PP-OCRv5_mobile_rec"
STEP = re.compile(r"global_step: (\d+), .*?, loss: ([\d.]+),")
FOLDED = "ocrbatch launcher: folded"


def make_data(folder: Path, count: int, seed: int, styles) -> Path:
    from ocrbatch.synth import generate_dataset

    generate_dataset(folder, count=count, seed=seed, task="rec", styles=styles, val_fraction=0.0, force=True)
    train = (folder / "train.txt").read_text().splitlines()
    (folder / "val.txt").write_text("\n".join(train[:2]) + "\n")  # a token eval: this compares training
    return folder


def train(home: Path, run: Path, data: Path, *, batch: int, pretrained: str | None,
          branches: int, characters: list[str], extra: dict | None = None) -> dict:
    # No warm-up (it would keep a short run's learning rate near 0): one cosine over the run.
    overrides = {"Global.print_batch_step": 1, "Global.log_smooth_window": 1, "Global.seed": 7,
                 "Optimizer.lr.warmup_epoch": 0, "Architecture.Backbone.conv_kxk_num": branches, **(extra or {})}
    config = contract.generate_config(
        contract.TrainingConfig.load(contract.base_config_path(home, MODEL)),
        contract.ConfigInputs(
            model=MODEL, data_dir=data, train_labels=data / "train.txt", val_labels=data / "val.txt",
            dict_file=contract.write_dict(characters, run / "dict.txt"), save_model_dir=run / "output",
            pretrained_model=pretrained, use_gpu=False, epochs=1, batch_size=batch, num_workers=os.cpu_count(),
            overrides=tuple((key, str(value)) for key, value in overrides.items()),
        ),
    )
    command = contract.tool_command(home, "train", config.write(run / "config.yml"))
    env = dict(os.environ, PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=run, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    losses, folded, cpu, evaluated = [], False, 0.0, {}
    for line in process.stdout:
        folded = folded or FOLDED in line
        event = log_lines.parse_log_line(line)
        if event and event.kind == "cur_metric":  # the end-of-epoch evaluation on val.txt
            evaluated = event.values
        match = STEP.search(line)
        if match:
            losses.append(float(match.group(2)))
            cpu = group_cpu_seconds(process.pid)
    if process.wait() != 0:
        raise SystemExit(f"training failed ({process.returncode}); see {run / 'output' / 'train.log'}")
    return {"losses": losses, "folded": folded, "eval": evaluated, "wall_s": round(time.monotonic() - started, 1),
            "cpu_s_per_sample": round(cpu / max(1, len(losses) * batch), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-steps", type=int, default=40)
    parser.add_argument("--steps", type=int, default=24, help="fine-tuning steps of each variant")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = Path(os.environ.get("PADDLEOCR_HOME", REPO.parent / "shared" / "paddleocr" / "src")).resolve()
    # The sampler's scales give batches of batch, 2/3 and 1/2 of it: ~0.72 x batch crops per step.
    crops = lambda steps: int(steps * args.batch_size * 0.72)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="paddleocr-fold-") as tmp:
        work = Path(tmp)
        pre_data = make_data(work / "pre", crops(args.pretrain_steps), 11, ["seg7"])
        tune_data = make_data(work / "tune", crops(args.steps), 12, None)
        labels = [line.split("\t", 1)[1] for folder in (pre_data, tune_data)
                  for line in (folder / "train.txt").read_text().splitlines()]
        characters = sorted(set("".join(labels)))
        pre = train(home, work / "pretrain", pre_data, batch=args.batch_size,
                    pretrained=None, branches=4, characters=characters)
        weights = str(work / "pretrain" / "output" / "latest")
        print(f"pretrained (4 branches, {len(pre['losses'])} steps from scratch): loss "
              f"{pre['losses'][0]:.2f} -> {pre['losses'][-1]:.2f}, {pre['wall_s']} s", flush=True)
        rows = {}
        for branches in (4, 1):
            rows[branches] = train(home, work / f"tune{branches}", tune_data,
                                   batch=args.batch_size, pretrained=weights, branches=branches,
                                   characters=characters)
            print(f"fine-tune, {branches} branch(es): folded={rows[branches]['folded']}, "
                  f"{rows[branches]['cpu_s_per_sample']} CPU-s/sample, {rows[branches]['wall_s']} s, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    if args.json:
        print(json.dumps({"pretrain": pre, "four": rows[4], "one": rows[1]}, indent=2))
        return
    print("step  loss(4 branches)  loss(1 branch, folded)")
    for step, (four, one) in enumerate(zip(rows[4]["losses"], rows[1]["losses"]), start=1):
        print(f"{step:4}  {four:16.3f}  {one:22.3f}")
    tail = max(1, len(rows[1]["losses"]) // 4)
    for branches in (4, 1):
        losses = rows[branches]["losses"]
        print(f"{branches} branch(es): first {losses[0]:.3f}, mean of the last {tail} {sum(losses[-tail:]) / tail:.3f}")


if __name__ == "__main__":
    main()
