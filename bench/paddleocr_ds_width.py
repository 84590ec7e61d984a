"""Does batching crops by width (PaddleOCR's ``ds_width``, 1.9x faster on a CPU) learn like padding
every crop to the full 320 px (the default)?

    PADDLEOCR_HOME=../shared/paddleocr/src .venv/bin/python bench/paddleocr_ds_width.py \
        --pretrain-steps 16 --steps 24 --batch-size 16 --val 64

No official weights can be fetched here, so a "pretrained" model is made first: the CPU default's one
branch per layer, from scratch on 7-segment crops at full width (``--pretrain-steps``). Both variants
then fine-tune from it on score crops of every look (another seed) with the same seed and learning
rate: ``full-width`` pads every crop to 320 px, ``by-width`` sizes each batch to its crops' mean
aspect ratio. Printed: PaddleOCR's unsmoothed training loss per step, the CPU-seconds per sample, and
the end-of-epoch evaluation on ``--val`` held-out crops (PaddleOCR's Eval pipeline, the same in
both: every crop resized into 48x320).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ocrbatch.trainer.engines.paddleocr import contract  # noqa: E402
from paddleocr_branch_fold import train  # noqa: E402

VARIANTS = {"by-width": {"Train.dataset.ds_width": True, "Train.sampler.max_w": 320},
            "full-width": {"Train.dataset.ds_width": False}}


def make_data(folder: Path, count: int, seed: int, styles, val: int = 2) -> Path:
    from ocrbatch.synth import generate_dataset

    generate_dataset(folder, count=count + val, seed=seed, task="rec", styles=styles, val_fraction=0.0, force=True)
    lines = (folder / "train.txt").read_text().splitlines()
    (folder / "train.txt").write_text("\n".join(lines[val:]) + "\n")
    (folder / "val.txt").write_text("\n".join(lines[:val]) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-steps", type=int, default=16)
    parser.add_argument("--steps", type=int, default=24, help="fine-tuning steps of each variant")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--val", type=int, default=64, help="held-out crops tools/eval.py reads")
    parser.add_argument("--seed", type=int, default=7, help="PaddleOCR's Global.seed; the fine-tuning crops' seed is 5 more")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    home = Path(os.environ.get("PADDLEOCR_HOME", REPO.parent / "shared" / "paddleocr" / "src")).resolve()
    # The sampler's scales give batches of batch, 2/3 and 1/2 of it: ~0.72 x batch crops per step.
    crops = lambda steps: int(steps * args.batch_size * 0.72)  # noqa: E731
    with tempfile.TemporaryDirectory(prefix="paddleocr-ds-width-") as tmp:
        work = Path(tmp)
        pre_data = make_data(work / "pre", crops(args.pretrain_steps), 11, ["seg7"])
        tune_data = make_data(work / "tune", crops(args.steps), args.seed + 5, "scores", val=args.val)
        labels = [line.split("\t", 1)[1] for folder in (pre_data, tune_data)
                  for name in ("train.txt", "val.txt") for line in (folder / name).read_text().splitlines()]
        characters = sorted(set("".join(labels)))
        pre = train(home, work / "pretrain", pre_data, batch=args.batch_size, pretrained=None, branches=1,
                    characters=characters, extra={**VARIANTS["full-width"], "Global.seed": args.seed})
        weights = str(work / "pretrain" / "output" / contract.LATEST)
        print(f"pretrained ({len(pre['losses'])} steps from scratch): loss "
              f"{pre['losses'][0]:.2f} -> {pre['losses'][-1]:.2f}, {pre['wall_s']} s", flush=True)
        rows = {}
        for name, extra in VARIANTS.items():
            run = work / name
            rows[name] = train(home, run, tune_data, batch=args.batch_size, pretrained=weights, branches=1,
                               characters=characters, extra={**extra, "Global.seed": args.seed})
            print(f"fine-tune, {name}: {rows[name]['cpu_s_per_sample']} CPU-s/sample, {rows[name]['wall_s']} s, "
                  f"eval {rows[name]['eval']}, load {os.getloadavg()[0]:.1f}", flush=True)
    if args.json:
        print(json.dumps({"pretrain": pre, **rows}, indent=2))
        return
    print("step  loss(full-width)  loss(by-width)")
    for step, (full, narrow) in enumerate(zip(rows["full-width"]["losses"], rows["by-width"]["losses"]), start=1):
        print(f"{step:4}  {full:16.3f}  {narrow:14.3f}")
    tail = max(1, len(rows["by-width"]["losses"]) // 4)
    for name, row in rows.items():
        losses = row["losses"]
        print(f"{name}: first {losses[0]:.3f}, mean of the last {tail} {sum(losses[-tail:]) / tail:.3f}, "
              f"eval acc {row['eval'].get('acc')}, norm_edit_dis {row['eval'].get('norm_edit_dis')}")


if __name__ == "__main__":
    main()
