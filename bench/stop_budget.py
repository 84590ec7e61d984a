"""The trainer's stop path with a checkpoint of a real model's size: SIGTERM -> save -> upload -> exit 143.

A trainer process (``run_training`` with a stand-in engine, so the checkpoint, not the training, is what
is measured) uploads a first checkpoint to a loopback S3 server (``rclone serve s3``), then gets SIGTERM.
The engine saves a new checkpoint of the given size, the orchestrator uploads it within the stop budget
(``ocrbatch.stop_window``, 100 s) and the process exits. Reported: seconds from the signal to the exit,
the budget, the trainer's CPU seconds, and which checkpoint the pointer names afterwards. A second run
with a budget far too small shows the other case: the exit comes on time and the previous checkpoint
stays pointed to and whole.

Default size: PP-OCRv5_server_rec's ``latest.pdparams`` + ``latest.pdopt`` with the stock 18,383-character
dict (215 MB + 413 MB, Adam's two moments), the largest checkpoint our engines write; built here from
PaddleOCR's own config. With a 40-character pinball dict it is 432 MB; PP-OCRv5_mobile_rec's is 190 MB.

    .venv/bin/python bench/stop_budget.py                   # 628 MB
    .venv/bin/python bench/stop_budget.py --params-mb 69 --optimizer-mb 121
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upload_bench import ACCESS_KEY, BUCKET, SECRET_KEY, start_server  # noqa: E402

from ocrbatch.stop_window import STOP_BUDGET_S  # noqa: E402

MB = 1_000_000
RUN_PREFIX = "runs/stop-budget"


def child(params_mb: float, optimizer_mb: float, budget: float | None) -> int:
    """The trainer process: run_training with an engine that only checkpoints."""
    import ocrbatch.datasets
    from ocrbatch.aws_clients import AwsClients
    from ocrbatch.trainer import run as run_module
    from ocrbatch.trainer.engines.base import LocalDataset, Preempted
    from ocrbatch.trainer.spec import TrainingSpec

    def write(folder: Path, tag: bytes) -> None:
        for name, size in (("latest.pdparams", params_mb), ("latest.pdopt", optimizer_mb)):
            with open(folder / name, "wb") as out:
                out.write(tag)
                remaining = int(size * MB) - len(tag)
                while remaining > 0:
                    chunk = os.urandom(min(remaining, 8 * MB))  # weights do not compress
                    out.write(chunk)
                    remaining -= len(chunk)
        (folder / "latest.states").write_bytes(tag)

    class CheckpointOnlyEngine:
        def train(self, ctx):
            write(ctx.checkpoint_dir, b"first")
            ctx.on_checkpoint({"epoch": 1, "step": 0})
            ctx.report(epoch=1, step=0, steps_per_epoch=100, elapsed_seconds=1.0)
            print("READY", flush=True)
            while not ctx.stop_requested.is_set():
                time.sleep(0.01)
            write(ctx.checkpoint_dir, b"second")  # the save on SIGTERM
            ctx.on_checkpoint({"epoch": 1, "step": 50})
            raise Preempted()

    def no_dataset(_store, key, dest):
        dest.mkdir(parents=True, exist_ok=True)
        return LocalDataset(dest, "rec", dest / "train.txt", dest / "val.txt", ("0",), key)

    ocrbatch.datasets.fetch_dataset = no_dataset
    run_module.get_engine = lambda name: CheckpointOnlyEngine()
    stop = run_module.StopRequest()
    run_module.install_signal_handlers(stop)
    spec = TrainingSpec(dataset=f"s3://{BUCKET}/datasets/none/versions/v1", output=f"s3://{BUCKET}/{RUN_PREFIX}")
    return run_module.run_training(spec, stop_event=stop, attempt=1, make_s3_client=partial(AwsClients(), "s3"),
                                   stop_budget=budget or STOP_BUDGET_S)


def measure(endpoint: str, root: Path, args, budget: float | None) -> dict:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
           "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": "us-east-1", "OCRBATCH_PROGRESS_INTERVAL": "0.2"}
    env.pop("AWS_PROFILE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    trainer = subprocess.Popen(
        [sys.executable, __file__, "--child", "--params-mb", str(args.params_mb), "--optimizer-mb",
         str(args.optimizer_mb), *(["--budget", str(budget)] if budget else [])], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in trainer.stdout:
        lines.append(line)
        if line.strip() == "READY":
            break
    pointer_file = root / BUCKET / RUN_PREFIX / "checkpoints" / "current.json"
    while not pointer_file.exists():  # the first checkpoint is the "previous" one
        time.sleep(0.05)
    signalled = time.monotonic()
    trainer.send_signal(signal.SIGTERM)
    lines.extend(trainer.stdout)
    code = trainer.wait()
    seconds = time.monotonic() - signalled
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    pointer = json.loads(pointer_file.read_text())
    slot = root / BUCKET / RUN_PREFIX / "checkpoints" / pointer["slot"]
    whole = all(
        (slot / name).stat().st_size == meta["size"]
        and hashlib.sha256((slot / name).read_bytes()).hexdigest() == meta["sha256"]
        for name, meta in pointer["files"].items()
    )
    message = next((line.strip() for line in lines if "stopped by SIGTERM" in line), "")
    return {"budget_s": budget, "exit_code": code, "signal_to_exit_s": round(seconds, 2),
            "trainer_cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
            "pointer": pointer["info"], "pointed_checkpoint_whole": whole, "message": message}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params-mb", type=float, default=214.6)
    parser.add_argument("--optimizer-mb", type=float, default=413.5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.params_mb, args.optimizer_mb, args.budget)
    load = os.getloadavg()
    results = []
    with tempfile.TemporaryDirectory(prefix="ocrbatch-stop-") as tmp:
        for budget in (None, 0.01):  # the real budget, then one no upload can meet
            root = Path(tmp) / f"s3-{budget}"
            server, endpoint = start_server(root)
            try:
                results.append(measure(endpoint, root, args, budget))
            finally:
                server.terminate()
                server.wait()
    size = args.params_mb + args.optimizer_mb
    for result in results:
        result["budget_s"] = result["budget_s"] or STOP_BUDGET_S
        print(json.dumps(result))
    ok = (results[0]["exit_code"] == 143 and results[0]["pointer"]["step"] == 50 and results[0]["pointed_checkpoint_whole"]
          and results[0]["signal_to_exit_s"] <= results[0]["budget_s"]
          and results[1]["exit_code"] == 143 and results[1]["pointed_checkpoint_whole"])
    print(f"checkpoint {size:.0f} MB: SIGTERM -> saved, uploaded, exit 143 in {results[0]['signal_to_exit_s']} s "
          f"(budget {results[0]['budget_s']:g} s, trainer CPU {results[0]['trainer_cpu_s']} s); with a "
          f"{results[1]['budget_s']:g} s budget: exit in {results[1]['signal_to_exit_s']} s, pointer names "
          f"{'the previous' if results[1]['pointer']['step'] == 0 else 'the new'} checkpoint, whole: "
          f"{results[1]['pointed_checkpoint_whole']}; load average before {load[0]:.1f}; ok: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
