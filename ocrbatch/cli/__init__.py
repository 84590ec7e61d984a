"""The `ocrbatch` command: a thin Typer shell over the services in ``ocrbatch``.

Each module here registers one group of commands on the single top-level app, so the commands stay
flat (`ocrbatch upload`, `ocrbatch submit`, ...) as the users' scripts expect:

    datasets.py  upload, validate, datasets, fetch      submit.py   submit, pipeline
    synth.py     synth                                  watch.py    monitor, logs
    doctor.py    doctor                                 jobs.py     list, cancel, download
    demo.py      demo                                   sweep.py    sweep, sweep results
    predict.py   predict, label                         report.py   report

``options.py`` defines the shared options once (``@acts_on_target`` adds the flags that say where a
command acts and hands it the resolved target), ``progress.py`` is the one progress renderer, and
``common.py`` holds the output rules and the app's error handling, done once for every command.

The modules of this package do not use ``from __future__ import annotations``: Typer reads every
command's annotations at start-up, and string annotations cost it one ``compile`` each (~380 of
them, ~20 ms on every command).
"""

import gc
import inspect

import typer

from ocrbatch.cli import common, datasets, demo, doctor, jobs, predict, report, submit, sweep, synth, watch

app = typer.Typer(
    name="ocrbatch",
    help=(
        "Train PaddleOCR models on this machine (local mode, the default) or on AWS Batch Spot GPUs "
        "(--aws, or any of --stack, --s3-bucket, --job-queue, --job-definition, --region, --profile)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for group in (datasets, synth, submit, watch, jobs, doctor, demo, predict, report):
    group.register(app)
for registered in app.registered_commands:  # errors are handled here, once, for every command
    registered.callback = common.one_line_errors(registered.callback)
sweep.register(app)  # a command group: it handles its commands' errors the same way itself


def flowing(doc: str | None) -> str | None:
    """A docstring as help text: Rich keeps every line break, so the source's wrapping would show as
    ragged lines in `ocrbatch --help` and `ocrbatch COMMAND --help`; paragraphs stay apart."""
    if not doc:
        return doc
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in inspect.cleandoc(doc).split("\n\n"))


for registered in (*app.registered_commands, *sweep.sweep_app.registered_commands):
    registered.help = registered.help or flowing(registered.callback.__doc__)


def main() -> None:
    # Most commands are over in a fraction of a second, and the garbage collector took a third of
    # that: importing botocore and loading service models allocate tens of thousands of containers,
    # which with the default threshold (700) trigger pass after pass that free nothing. An unchanged
    # 5,000-file re-upload went from 0.54 s to 0.31 s with the two settings below.
    gc.set_threshold(100_000)  # still collects, just less often: a long `monitor` stays bounded
    try:
        app()
    finally:
        # The interpreter's final full collection walks everything imported (~110 ms here). Frozen
        # objects are skipped by it but still freed; every file this package writes is closed by
        # a `with` block, so nothing waits on that collection.
        gc.freeze()
