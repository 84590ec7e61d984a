"""The `ocrbatch` command: a thin Typer shell over the services in ``ocrbatch``.

Each module here registers one group of commands on the single top-level app, so the commands stay
flat (`ocrbatch upload`, `ocrbatch submit`, ...) as the users' scripts expect.
"""

from __future__ import annotations

import typer

from ocrbatch.cli import datasets, demo, doctor, jobs, synth

app = typer.Typer(
    name="ocrbatch",
    help="Train PaddleOCR models on AWS Batch Spot GPUs, or on this machine with --local.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for group in (datasets, synth, jobs, doctor, demo):
    group.register(app)


def main() -> None:
    app()
