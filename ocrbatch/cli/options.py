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


def acts_on_target(*, batch: bool = False, job_params: tuple[str, ...] = ()) -> Callable:
    """Give a command the shared flags and hand it the resolved ``target`` instead.

    ``batch`` adds ``--job-queue``/``--job-definition``. ``job_params`` names the command's
    parameters that hold a job id: a Batch job id alone then means AWS (the seed's
    ``monitor --job-id ID``).
    """
    flags = {**_TARGET_FLAGS, **(_BATCH_FLAGS if batch else {})}

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command)
        own = [p for name, p in signature.parameters.items() if name != "target"]
        shared = [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
            for name, annotation in flags.items()
        ]

        @functools.wraps(command)
        def with_target(**values):
            given = {name: values.pop(name) for name in flags}
            job_ref = next((values[name] for name in job_params if values.get(name)), None)
            target = common.make_target(given.pop("local"), job_ref=job_ref, **given)
            return command(target=target, **values)

        with_target.__signature__ = signature.replace(parameters=own + shared)
        with_target.__annotations__ = {p.name: p.annotation for p in own + shared}
        return with_target

    return decorate


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
        help="Dataset version (name, name@version or URI), or a folder to upload first.",
    ),
]
DatasetNameOpt = Annotated[
    Optional[str], typer.Option("--dataset-name", help="Name for a folder's dataset (default: the folder's name).")
]
QueueOpt = Annotated[str, typer.Option("--queue", help="gpu or cpu.")]
GpusOpt = Annotated[int, typer.Option("--gpus", help="GPUs for the job (>1 uses the multi-GPU job definition).")]
JobNameOpt = Annotated[Optional[str], typer.Option("--job-name", help="Job name (default from the dataset).")]
EngineOpt = Annotated[str, typer.Option("--engine", help="builtin (offline, CTC) or paddleocr (PP-OCR fine-tuning).")]
TaskOpt = Annotated[
    Optional[str],
    typer.Option("--task", help="rec (recognition) or det (detection, paddleocr engine); default: the dataset's."),
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
