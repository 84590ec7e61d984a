"""Options defined once: the flags that say where a command acts, applied by :func:`acts_on_target`,
and the options several commands share (``--json``, a job's id, ``--timeout``, training settings).
"""

import functools
import inspect
import re
from pathlib import Path
from typing import Annotated, Callable, List, Optional

import typer

from ocrbatch.cli import common
from ocrbatch.errors import BadInput

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]

# --- where a command acts ------------------------------------------------------------------------

LocalOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--local/--aws",
        help="Run on this machine (no AWS) or on the deployed AWS stack. "
        "Default: OCRBATCH_BACKEND, else aws when a stack/bucket/queue flag is given, else local.",
        show_default=False,
    ),
]
StackOpt = Annotated[
    Optional[str],
    typer.Option("--stack", envvar="OCRBATCH_STACK", help="CloudFormation stack to read names from."),
]
RegionOpt = Annotated[Optional[str], typer.Option("--region", help="AWS region (default AWS_REGION, us-west-2).")]
ProfileOpt = Annotated[Optional[str], typer.Option("--profile", help="AWS profile (default AWS_PROFILE).")]
BucketOpt = Annotated[
    Optional[str], typer.Option("--s3-bucket", "--bucket", help="Bucket to use instead of the stack's.")
]
HomeOpt = Annotated[
    Optional[str],
    typer.Option("--home", envvar="OCRBATCH_HOME", help="Local mode's state folder (default ~/.ocrbatch)."),
]
JobQueueOpt = Annotated[
    Optional[str], typer.Option("--job-queue", help="Batch job queue to use instead of the stack's.")
]
JobDefinitionOpt = Annotated[
    Optional[str], typer.Option("--job-definition", help="Batch job definition to use instead of the stack's.")
]

_TARGET_FLAGS = {
    "local": LocalOpt,
    "stack": StackOpt,
    "region": RegionOpt,
    "profile": ProfileOpt,
    "bucket": BucketOpt,
    "home": HomeOpt,
}
_BATCH_FLAGS = {"job_queue": JobQueueOpt, "job_definition": JobDefinitionOpt}


def _replaces(names: tuple[str, ...], options: dict[str, tuple], build: Callable[..., dict]) -> Callable:
    """A decorator: the command's parameters ``names`` become the CLI ``options`` (each
    ``(annotation, default)``); ``build(given, values)`` turns what they were given (and the command's
    other values) into those parameters' values."""

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.name not in names]
        added = [
            inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
            for option, (annotation, default) in options.items()
        ]

        @functools.wraps(command)
        def replaced(**values):
            given = {option: values.pop(option) for option in options}
            return command(**build(given, values), **values)

        replaced.__signature__ = signature.replace(parameters=own + added)
        replaced.__annotations__ = {p.name: p.annotation for p in own + added}
        return replaced

    return decorate


def acts_on_target(*, batch: bool = False, queue: bool = False, job: str | None = None) -> Callable:
    """Give a command the shared flags and hand it the resolved ``target`` instead.

    ``batch`` adds ``--job-queue``/``--job-definition``; ``queue``, ``--job-queue`` alone. ``job`` ("required" or a default such as
    "latest") adds the JOB argument and the seed's ``--job-id`` and hands the command ``job``, the
    ref they name; a Batch job id alone then means AWS (the seed's ``monitor --job-id ID``).
    """
    flags = {name: (annotation, None) for name, annotation in _TARGET_FLAGS.items()}
    if batch:
        flags.update({name: (annotation, None) for name, annotation in _BATCH_FLAGS.items()})
    elif queue:
        flags["job_queue"] = (JobQueueOpt, None)
    if job:
        flags.update(job=(JobArg, None), job_id=(JobIdOpt, None))

    def build(given: dict, values: dict) -> dict:
        named = {}
        if job:
            named["job"] = job_ref(given.pop("job"), given.pop("job_id"), default=None if job == "required" else job)
        target = common.make_target(given.pop("local"), job_ref=named.get("job"), **given)
        return {"target": target, **named}

    return _replaces(("target", "job") if job else ("target",), flags, build)


# --- naming a job ---------------------------------------------------------------------------------

JobArg = Annotated[Optional[str], typer.Argument(help="Job id, or `latest`.", show_default=False)]
JobIdOpt = Annotated[Optional[str], typer.Option("--job-id", help="Job id (same as the JOB argument).")]
TimeoutOpt = Annotated[
    Optional[str],
    typer.Option(
        "--timeout",
        metavar="DURATION",
        help="Stop waiting after this long (600, 90s, 30m, 2h) and exit 124; the job keeps running.",
        show_default=False,
    ),
]
OutputDirOpt = Annotated[Optional[Path], typer.Option("--output-dir", help="Where the model is written.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace a different model already in --output-dir.")]


def job_ref(job: str | None, job_id: str | None, *, default: str | None = None) -> str:
    """The job named by the JOB argument or ``--job-id`` (the seed's flag); both must agree."""
    if job and job_id and job != job_id:
        raise BadInput(f"two different jobs named: {job} and --job-id {job_id}")
    ref = job or job_id or default
    if not ref:
        raise BadInput("name a job: ocrbatch COMMAND JOB_ID (or `latest`)")
    return ref


def parse_timeout(text: str | None) -> float | None:
    """``--timeout`` in seconds: a number, optionally with s, m or h."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match or float(match[1]) <= 0:
        raise BadInput(f"--timeout must be a positive duration such as 600, 90s, 30m or 2h, got {text!r}")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


# --- what to train ----------------------------------------------------------------------------------

DatasetOpt = Annotated[
    Optional[str],
    typer.Option(
        "--dataset",
        "--training-data",
        help="A published dataset version (NAME, NAME@ID or URI), or a folder to upload first, written as a "
        "path (./my-data, not my-data). Default: the newest version.",
        show_default=False,
    ),
]
ValFractionOpt = Annotated[
    Optional[float],
    typer.Option(
        "--val-fraction",
        help="A folder without a val file: share of its images held out as val, chosen by content "
        "(the same on every upload; default 0.05, at least one image). A val file always wins.",
        show_default=False,
    ),
]
DatasetNameOpt = Annotated[
    Optional[str], typer.Option("--dataset-name", help="Name for a folder's dataset (default: the folder's name).")
]
IncludeUncheckedOpt = Annotated[
    bool,
    typer.Option(
        "--include-unchecked",
        help="PPOCRLabel folder: also train on images not checked in PPOCRLabel (left out by default).",
    ),
]
SkipBadOpt = Annotated[
    bool, typer.Option("--skip-bad", help="Drop label lines that have errors (and say how many) instead of stopping.")
]
QueueOpt = Annotated[str, typer.Option("--queue", help="gpu or cpu.")]
GpusOpt = Annotated[int, typer.Option("--gpus", help="GPUs for the job (>1 uses the multi-GPU job definition).")]
JobNameOpt = Annotated[Optional[str], typer.Option("--job-name", help="Job name (default from the dataset).")]
EngineOpt = Annotated[str, typer.Option("--engine", help="builtin (offline: a CTC reader, or a small detector with --task det) or paddleocr (PP-OCR fine-tuning).")]
TaskOpt = Annotated[
    Optional[str],
    typer.Option("--task", help="rec (recognition) or det (detection); default: the dataset's."),
]
ModelOpt = Annotated[
    Optional[str], typer.Option("--model", help="Base model of the paddleocr engine, e.g. PP-OCRv5_mobile_rec.")
]
EpochsOpt = Annotated[Optional[int], typer.Option("--epochs", help="Training epochs.")]
LearningRateOpt = Annotated[
    Optional[float], typer.Option("--config-learning-rate", "--learning-rate", help="Learning rate.")
]
BatchSizeOpt = Annotated[Optional[int], typer.Option("--config-batch-size", "--batch-size", help="Batch size.")]
SetOpt = Annotated[
    Optional[List[str]], typer.Option("--set", help="Engine config override KEY=VALUE (repeatable).")
]
FromScratchOpt = Annotated[
    bool,
    typer.Option(
        "--from-scratch",
        help="paddleocr engine: start from random weights, not the model's pretrained ones (needs far more data).",
    ),
]


MaxHoursOpt = Annotated[
    Optional[float],
    typer.Option("--max-hours", help="AWS: stop each attempt after this many hours (Batch's job timeout); "
                 "--dry-run prices this many hours."),
]


_TRAINING = {
    "dataset": (DatasetOpt, None),
    "dataset_name": (DatasetNameOpt, None),
    "val_fraction": (ValFractionOpt, None),
    "include_unchecked": (IncludeUncheckedOpt, False),
    "skip_bad": (SkipBadOpt, False),
    "engine": (EngineOpt, "builtin"),
    "task": (TaskOpt, None),
    "model": (ModelOpt, None),
    "from_scratch": (FromScratchOpt, False),
    "epochs": (EpochsOpt, None),
    "learning_rate": (LearningRateOpt, None),
    "batch_size": (BatchSizeOpt, None),
    "overrides": (SetOpt, None),
    "queue": (QueueOpt, "gpu"),
    "gpus": (GpusOpt, 1),
    "job_name": (JobNameOpt, None),
    "max_hours": (MaxHoursOpt, None),
}


def trains() -> Callable:
    """Give a command the dataset and training options; it gets ``dataset``, the
    :class:`~ocrbatch.jobs.dataset_choice.DatasetChoice` (a version, or a folder and how to upload it), and
    ``training``, the :class:`~ocrbatch.jobs.submission.TrainingOptions` (under :func:`acts_on_target`,
    whose ``--job-queue``/``--job-definition`` it takes in)."""

    def build(given: dict, values: dict) -> dict:
        from ocrbatch.jobs.dataset_choice import DatasetChoice
        from ocrbatch.jobs.submission import TrainingOptions
        from ocrbatch.trainer.spec import parse_overrides

        target = values["target"]
        if given["max_hours"] is not None and target.local:
            raise BadInput("--max-hours is the time limit of an AWS Batch job; a local job has none "
                           "(the builtin engine's --set max_train_seconds=S limits its training)")
        dataset = DatasetChoice(
            given.pop("dataset"), name=given.pop("dataset_name"), val_fraction=given.pop("val_fraction"),
            include_unchecked=given.pop("include_unchecked"), skip_bad=given.pop("skip_bad"),
        )
        given["overrides"] = parse_overrides(given["overrides"] or [])
        options = TrainingOptions(job_queue=target.job_queue, job_definition=target.job_definition, **given)
        return {"training": options, "dataset": dataset}

    return _replaces(("training", "dataset"), _TRAINING, build)
