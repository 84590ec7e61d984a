"""Throughput of `ocrbatch synth`: images per second, one process and all cores, rec crops and det frames.

Whole dataset writes (render + JPEG + file + label files), into temporary folders removed at the end.
Besides wall-clock images/s it reports images per CPU-second (this process and its workers), which
stays meaningful on a machine shared with other jobs.
Usage: python bench/synth_bench.py [--rec 5000] [--det 300] [--workers N] [--json]
On a shared machine the figures move with the neighbours' load; run it twice.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
from pathlib import Path

from ocrbatch.synth import generate_dataset
from ocrbatch.synth.generator import default_workers


def cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU seconds of this process and its finished workers."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime for u in usage), sum(u.ru_stime for u in usage)


def measure(task: str, count: int, workers: int, out_dir: Path) -> dict:
    user_before, system_before = cpu_seconds()
    summary = generate_dataset(out_dir, count=count, seed=1, task=task, workers=workers)
    user_after, system_after = cpu_seconds()
    user, system = user_after - user_before, system_after - system_before
    cpu = user + system
    size = sum(p.stat().st_size for p in (out_dir / "images").iterdir())
    return {
        "task": task,
        "count": count,
        "workers": summary["workers"],
        "seconds": summary["seconds"],
        "images_per_second": summary["images_per_second"],
        "cpu_seconds": round(cpu, 2),
        # Kernel time is mostly file creation: ~20 us a file here, up to 30x that for minutes after
        # many files were deleted (see main); user time is the generator's own work.
        "user_seconds": round(user, 2),
        "system_seconds": round(system, 2),
        "images_per_cpu_second": round(count / cpu, 1) if cpu > 0 else None,
        "mean_kb": round(size / count / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rec", type=int, default=5000, help="rec crops per run")
    parser.add_argument("--det", type=int, default=300, help="det frames per run")
    parser.add_argument("--workers", type=int, default=default_workers(), help="processes for the all-cores runs")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    rows = []
    # One folder for all runs, removed at the end: on an ext4 without a journal (this machine's),
    # creating a file searches past recently freed inodes, so for minutes after thousands of files
    # are deleted each new one costs up to 30x the kernel time; that would land on the next run.
    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        for task, count in (("rec", args.rec), ("det", args.det)):
            for workers in sorted({1, args.workers}):
                rows.append(measure(task, count, workers, Path(tmp) / f"{task}-{workers}"))
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "rows": rows}, indent=2))
        return
    print(f"{'task':<5} {'count':>6} {'workers':>7} {'seconds':>8} {'images/s':>9} {'images/cpu-s':>12}"
          f" {'user-s':>7} {'sys-s':>6} {'KB/img':>7}")
    for r in rows:
        print(
            f"{r['task']:<5} {r['count']:>6} {r['workers']:>7} {r['seconds']:>8.2f} {r['images_per_second']:>9.0f}"
            f" {r['images_per_cpu_second']:>12.0f} {r['user_seconds']:>7.2f} {r['system_seconds']:>6.2f} {r['mean_kb']:>7.1f}"
        )
    print(f"(machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; shared machines vary run to run)")


if __name__ == "__main__":
    main()
