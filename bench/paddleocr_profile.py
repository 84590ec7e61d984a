"""Where a training step of the paddleocr engine goes on a CPU: paddle.profiler over real steps.

    PADDLEOCR_HOME=../shared/paddleocr/src .venv/bin/python bench/paddleocr_profile.py \
        --model PP-OCRv5_mobile_rec --variant default --batch-size 16 --steps 3

The config is the one ``paddleocr_cpu_speed.py`` writes for the variant (the engine's, on generated
data), run through our launcher and PaddleOCR's own ``tools/train.py``; only ``num_workers`` is 0, so
that the data pipeline (decoding, RecAug/RecConAug, resizing) runs in the profiled process and shows
as "Dataloader" beside Forward, Backward and Optimization. The first step is not profiled (warm-up);
the next ``--steps`` are, then the process exits. Prints paddle's model summary and the operators
that take the most CPU time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from paddleocr_cpu_speed import CPU_VARIANTS, write_config  # noqa: E402

from ocrbatch.trainer.engines.paddleocr import launcher  # noqa: E402


def profiled_train(train, steps: int):
    """program.train, with the profiler on from the second batch for ``steps`` batches."""

    def wrapped(config, train_dataloader, *args, **kwargs):
        import paddle.profiler as profiler

        class Profiled:
            def __len__(self):
                return len(train_dataloader)

            def __getattr__(self, name):
                return getattr(train_dataloader, name)

            def __iter__(self):
                prof = profiler.Profiler(targets=[profiler.ProfilerTarget.CPU], timer_only=False)
                for index, batch in enumerate(train_dataloader):
                    if index == 1:
                        prof.start()
                    elif index > 1:
                        prof.step()
                    if index == steps + 1:
                        prof.stop()
                        views = [profiler.SummaryView.ModelView, profiler.SummaryView.OperatorView]
                        prof.summary(sorted_by=profiler.SortedKeys.CPUTotal, op_detail=False,
                                     time_unit="ms", views=views)
                        sys.stdout.flush()
                        os._exit(0)
                    yield batch

        return train(config, Profiled(), *args, **kwargs)

    return wrapped


def child(argv: list[str]) -> None:
    """Runs in the training process: the launcher, with program.train profiled."""
    home, steps, config_file = argv[0], int(argv[1]), argv[2]
    sys.path.insert(0, home)
    import tools.program

    tools.program.train = profiled_train(tools.program.train, steps)
    launcher.main([home, "-c", config_file])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="PP-OCRv5_mobile_rec")
    parser.add_argument("--variant", default="default", choices=list(CPU_VARIANTS))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="another config override")
    args = parser.parse_args()
    home = Path(os.environ.get("PADDLEOCR_HOME", REPO.parent / "shared" / "paddleocr" / "src")).resolve()
    extra = dict(item.split("=", 1) for item in args.set)
    extra.update({"Train.loader.num_workers": "0"})
    with tempfile.TemporaryDirectory(prefix="paddleocr-profile-") as tmp:
        config_file = write_config(home, args.model, CPU_VARIANTS[args.variant], steps=args.steps + 2,
                                   batch=args.batch_size, work=Path(tmp), gpu=False, extra=extra)
        env = dict(os.environ, PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
        command = [sys.executable, __file__, "--child", str(home), str(args.steps), str(config_file)]
        output = subprocess.run(command, cwd=config_file.parent, env=env, capture_output=True, text=True)
    text = output.stdout
    start = text.find("---------------Model Summary")
    if start < 0:
        sys.exit(f"no profile in the output (exit {output.returncode}):\n{text[-3000:]}{output.stderr[-3000:]}")
    lines = text[start:].splitlines()
    operator = next((i for i, line in enumerate(lines) if "Operator Summary" in line), len(lines))
    print("\n".join(lines[: operator + 6 + args.top]))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        main()
