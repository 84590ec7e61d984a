"""GPU training throughput of the builtin engine: images/s and GPU busy %, with and without AMP.

A short, prepared script for a machine with an NVIDIA GPU (issue 4's GPU check). It generates score
crops once, then trains the builtin engine for ``--seconds`` per configuration (mixed precision on and
off, each batch size given) while ``nvidia-smi`` samples GPU utilisation every 200 ms. The target is
at least 90 % GPU busy: below that, decoding and batching images (the DataLoader side) is the
bottleneck, not the GPU.

    python bench/gpu_throughput.py --seconds 60 --batch-sizes 128,256
    python bench/gpu_throughput.py --cpu-smoke        # checks the script itself on a CPU (no figures)

Prints one table and, with ``--json``, one JSON document.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


class GpuSampler:
    """Samples ``utilization.gpu`` of GPU 0 until stopped; an empty list without nvidia-smi."""

    def __init__(self, interval_ms: int = 200):
        self.samples: list[float] = []
        self.process = None
        if shutil.which("nvidia-smi"):
            self.process = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 f"-lms={interval_ms}", "-i", "0"],
                stdout=subprocess.PIPE, text=True,
            )
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()

    def _read(self):
        for line in self.process.stdout:
            try:
                self.samples.append(float(line.strip()))
            except ValueError:
                pass

    def stop(self) -> float | None:
        if self.process is None:
            return None
        self.process.terminate()
        self.process.wait(timeout=5)
        # Skip the first second: start-up (graph build, first batches) is not steady state.
        steady = self.samples[5:] or self.samples
        return round(statistics.mean(steady), 1) if steady else None


def train_once(dataset, workdir: Path, *, seconds: float, batch_size: int, amp: bool, use_gpu: bool) -> dict:
    from ocrbatch.trainer.engines.base import TrainContext
    from ocrbatch.trainer.engines.builtin import BuiltinEngine
    from ocrbatch.trainer.spec import TrainingSpec

    overrides = {"max_train_seconds": str(seconds), "use_amp": str(amp).lower(), "batch_size": str(batch_size)}
    ctx = TrainContext(
        spec=TrainingSpec(dataset=dataset.version, output=f"file://{workdir}", overrides=overrides),
        dataset=dataset, workdir=workdir / "work", checkpoint_dir=workdir / "checkpoints",
        export_dir=workdir / "export", on_checkpoint=lambda info: None, report=lambda **values: None,
        use_gpu=use_gpu,
    )
    sampler = GpuSampler()
    started = time.monotonic()
    result = BuiltinEngine().train(ctx)
    wall = time.monotonic() - started
    busy = sampler.stop()
    metrics = result.metrics
    return {
        "amp": amp, "batch_size": batch_size, "images_per_second": metrics.get("images_per_second"),
        "gpu_busy_percent": busy, "train_seconds": metrics.get("train_seconds"), "wall_seconds": round(wall, 1),
        "accuracy": metrics.get("accuracy"), "steps": metrics.get("global_step"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30000, help="generated crops (10%% held out)")
    parser.add_argument("--seconds", type=float, default=60.0, help="training seconds per configuration")
    parser.add_argument("--batch-sizes", default="128,256")
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny CPU run that only checks the script")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from ocrbatch.synth import generate_dataset
    from ocrbatch.trainer.engines.base import LocalDataset
    from ocrbatch.trainer.run import _detect_gpu

    use_gpu = _detect_gpu()
    if not use_gpu and not args.cpu_smoke:
        print("no CUDA device visible to paddle: run this on a GPU machine, or pass --cpu-smoke", file=sys.stderr)
        return 2
    count, seconds = (400, 5.0) if args.cpu_smoke else (args.count, args.seconds)
    batch_sizes = [16] if args.cpu_smoke else [int(b) for b in args.batch_sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="gpu-throughput-"))
    summary = generate_dataset(root / "data", count=count, seed=11, task="rec", styles=["seg7"])
    data = root / "data"
    dataset = LocalDataset(root=data, task="rec", train_labels=data / "train.txt", val_labels=data / "val.txt",
                           characters=tuple(sorted(summary["characters"])), version="synth:seg7:11")
    rows = []
    for batch_size in batch_sizes:
        for amp in (True, False):
            run = root / f"run-b{batch_size}-{'amp' if amp else 'fp32'}"
            rows.append(train_once(dataset, run, seconds=seconds, batch_size=batch_size, amp=amp, use_gpu=use_gpu))
    if args.json:
        print(json.dumps({"gpu": use_gpu, "rows": rows}, indent=2))
        return 0
    print(f"builtin engine on {'GPU' if use_gpu else 'CPU (smoke run)'}, {seconds:.0f} s per row, {count} crops")
    print(f"{'batch':>6} {'amp':>5} {'img/s':>9} {'GPU busy %':>11} {'steps':>7} {'accuracy':>9}")
    for r in rows:
        busy = "-" if r["gpu_busy_percent"] is None else f"{r['gpu_busy_percent']:.1f}"
        print(f"{r['batch_size']:>6} {str(r['amp']):>5} {r['images_per_second']:>9} {busy:>11} "
              f"{r['steps']:>7} {r['accuracy']:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
