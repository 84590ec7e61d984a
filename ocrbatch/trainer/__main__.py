"""``python -m ocrbatch.trainer``: the training image's entrypoint (and local mode's job process).

Configured by OCRBATCH_* environment variables (set by `ocrbatch submit`), which the flags below
override. Exit codes: 0 published, 1 failed, 2 bad arguments, 143 stopped by SIGTERM (resumable).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from functools import partial

from ocrbatch.errors import OcrbatchError
from ocrbatch.paddle_notices import quiet_paddle_warnings
from ocrbatch.storage import store_at
from ocrbatch.tasks import TASKS
from ocrbatch.trainer.spec import ENGINES, TrainingSpec, parse_overrides, sweep_child


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ocrbatch.trainer", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", help="dataset version URI (OCRBATCH_DATASET)")
    parser.add_argument("--output", help="run output URI (OCRBATCH_OUTPUT)")
    parser.add_argument("--engine", choices=ENGINES)
    parser.add_argument("--task", choices=TASKS)
    parser.add_argument("--model", help="base model for the paddleocr engine")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--from-scratch", action="store_true", default=None,
                        help="paddleocr engine: random initial weights, no pretrained ones (OCRBATCH_FROM_SCRATCH)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="engine config override")
    args = parser.parse_args(argv)
    quiet_paddle_warnings(os.environ)  # before anything imports paddle, here or in a process started from here

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
        force=True,
    )
    try:
        cli_values = dict(
            dataset=args.dataset, output=args.output, engine=args.engine, task=args.task, model=args.model,
            epochs=args.epochs, learning_rate=args.learning_rate, batch_size=args.batch_size,
            from_scratch=args.from_scratch,
        )
        spec = TrainingSpec.from_env(os.environ, **cli_values)
        if args.set:
            spec = TrainingSpec(**{**spec.to_json(), "overrides": {**spec.overrides, **parse_overrides(args.set)}})
    except OcrbatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code

    from ocrbatch.aws_clients import AwsClients, transfer_config
    from ocrbatch.stop_window import STOP_BUDGET_S
    from ocrbatch.trainer.run import PROGRESS_INTERVAL_S, StopRequest, install_signal_handlers, run_training

    make_s3_client = partial(AwsClients(), "s3")

    def read_manifest(uri: str) -> dict:
        store, key = store_at(uri, make_s3_client=make_s3_client)
        return json.loads(store.get_bytes(key))

    try:
        spec = sweep_child(spec, os.environ, read_manifest)
    except (OcrbatchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)

    stop = StopRequest()
    install_signal_handlers(stop)
    workdir = os.environ.get("OCRBATCH_WORKDIR")  # local mode keeps it across attempts
    try:
        attempt = int(os.environ.get("AWS_BATCH_JOB_ATTEMPT") or 1)
        progress_interval = float(os.environ.get("OCRBATCH_PROGRESS_INTERVAL") or PROGRESS_INTERVAL_S)
        stop_budget = float(os.environ.get("OCRBATCH_STOP_BUDGET") or STOP_BUDGET_S)  # drills shorten it
    except ValueError as exc:
        print(f"error: a number in the environment is malformed: {exc}", file=sys.stderr)
        return 2
    return run_training(
        spec,
        stop_event=stop,
        workdir=Path(workdir) if workdir else None,
        attempt=attempt,
        make_s3_client=make_s3_client,
        transfer_config=transfer_config,
        progress_interval=progress_interval,
        stop_budget=stop_budget,
    )


if __name__ == "__main__":
    sys.exit(main())
