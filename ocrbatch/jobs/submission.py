"""Submitting a training run: dataset version -> TrainingSpec -> JobRequest -> job, with its run record.

Shared by `submit` and `pipeline` on both backends (``dataset_choice`` says which version they train on). The run id is chosen here, before the job
exists, and ``runs/<run_id>/run.json`` is written first, so every job ocrbatch started has a record
of what was asked, even if the submit call itself fails halfway.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ocrbatch.errors import BadInput, OcrbatchError
from ocrbatch.jobs.backend import JobBackend, JobInfo, JobRequest, check_placement
from ocrbatch.jobs.runs import new_run_id, write_run_record
from ocrbatch.layout import RunLayout, parse_dataset_version
from ocrbatch.storage import ObjectStore
from ocrbatch.trainer.engines import check_spec, spec_for_job
from ocrbatch.trainer.spec import TrainingSpec

# AWS Batch's rule for job names; local mode keeps the same rule so scripts move between backends.
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


@dataclass(frozen=True)
class TrainingOptions:
    """The training flags of `submit`/`pipeline`, before the dataset and run are known."""

    engine: str = "builtin"
    task: str | None = None  # None: the dataset version's own task
    model: str | None = None
    epochs: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    overrides: dict[str, str] | None = None
    from_scratch: bool = False
    queue: str = "gpu"
    gpus: int = 1
    job_name: str | None = None
    job_queue: str | None = None
    job_definition: str | None = None
    max_hours: float | None = None  # each attempt's time limit on AWS, and the hours an estimate prices


# Batch's shortest job timeout is 60 s.
MIN_MAX_HOURS = 60 / 3600


@dataclass(frozen=True)
class PlannedRun:
    run_id: str
    run_uri: str
    dataset_uri: str
    request: JobRequest


@dataclass(frozen=True)
class SubmittedRun:
    run: PlannedRun
    job: JobInfo


def destination(backend: JobBackend, job: JobInfo, request: JobRequest) -> str:
    """Where a submitted job went, in the words `submit`, `sweep` and `pipeline` print: Batch's queue
    by name, or the local queue (one, on this machine, whatever --queue says)."""
    if backend.name == "local":
        return "the local queue (this machine)"
    queue = job.queue or request.job_queue or request.queue
    return f"queue {queue.rsplit('/', 1)[-1]}"  # an ARN's name


def default_job_name(dataset_uri: str, engine: str) -> str:
    """``ocrbatch-<dataset name>-<engine>`` from ``.../datasets/<name>/versions/<id>``."""
    parsed = parse_dataset_version(dataset_uri)
    name = parsed[0] if parsed else "dataset"
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"ocrbatch-{name}-{engine}")[:128]


def plan_run(
    store: ObjectStore,
    dataset_uri: str,
    options: TrainingOptions,
    *,
    dataset_task: str | None = None,
    now: float | None = None,
) -> PlannedRun:
    """Everything about the run except submitting it (what `--dry-run` shows)."""
    job_name = checked_job_name(options, dataset_uri)
    check_job_options(options)
    run_id = new_run_id(job_name, now=now)
    run_uri = store.uri(RunLayout(run_id).prefix)
    spec = training_spec(dataset_uri, run_uri, options, dataset_task=dataset_task)
    return PlannedRun(run_id=run_id, run_uri=run_uri, dataset_uri=dataset_uri, request=job_request(job_name, spec, options))


def checked_job_name(options: TrainingOptions, dataset_uri: str) -> str:
    job_name = options.job_name or default_job_name(dataset_uri, options.engine)
    if not _JOB_NAME.match(job_name):
        raise BadInput(
            f"job name {job_name!r} must start with a letter or digit and use only letters, digits, "
            "'-' and '_' (128 at most)"
        )
    return job_name


def check_job_options(options: TrainingOptions) -> None:
    """What the job (not the run) is given: a queue that can place it, and a time limit Batch takes."""
    check_placement(options.queue, options.gpus)
    if options.max_hours is not None and not options.max_hours >= MIN_MAX_HOURS:
        raise BadInput(f"--max-hours must be at least {MIN_MAX_HOURS:.4f} (60 s, Batch's shortest timeout), "
                       f"got {options.max_hours:g}")


def training_spec(
    dataset_uri: str, output: str, options: TrainingOptions, *, dataset_task: str | None = None, sweep: str | None = None
) -> TrainingSpec:
    """The spec of a run, refused here as the engine would refuse it when the job starts (the one
    check `submit` and every child of a sweep go through)."""
    if options.task and dataset_task and options.task != dataset_task:
        raise BadInput(f"--task {options.task} does not match the dataset, which is a {dataset_task} dataset")
    spec = TrainingSpec(
        dataset=dataset_uri,
        output=output,
        engine=options.engine,
        task=options.task or dataset_task or "rec",
        model=options.model,
        epochs=options.epochs,
        learning_rate=options.learning_rate,
        batch_size=options.batch_size,
        overrides=dict(options.overrides or {}),
        from_scratch=options.from_scratch,
        sweep=sweep,
    )
    check_spec(spec)
    return spec_for_job(spec)


def job_request(job_name: str, spec: TrainingSpec, options: TrainingOptions, *, array_size: int | None = None) -> JobRequest:
    return JobRequest(
        job_name=job_name,
        spec=spec,
        queue=options.queue,
        gpus=options.gpus,
        job_definition=options.job_definition,
        job_queue=options.job_queue,
        max_hours=options.max_hours,
        array_size=array_size,
    )


def run_record(run: PlannedRun, backend: str, job: JobInfo | None = None) -> dict:
    request = run.request
    return {
        "run_id": run.run_id,
        "run_uri": run.run_uri,
        "backend": backend,
        "job_name": request.job_name,
        "job_id": job.job_id if job else None,
        "queue": request.queue,
        "gpus": request.gpus,
        "spec": request.spec.to_json(),
        "submitted_at": time.time(),
    }


class SubmitUnanswered(OcrbatchError):
    """The submit request went out and no answer came back: the job may exist."""

    def __init__(self, job_name: str, run_uri: str, cause: BaseException, list_command: str = "ocrbatch list"):
        super().__init__(
            f"no answer to the submit of job {job_name} ({type(cause).__name__}): it may have been created "
            f"anyway; look for it with `{list_command}` before submitting again (its run {run_uri} is kept)"
        )
        self.job_name, self.run_uri, self.cause = job_name, run_uri, cause

    def listed_with(self, list_command: str) -> "SubmitUnanswered":
        return SubmitUnanswered(self.job_name, self.run_uri, self.cause, list_command)


def sent_but_unanswered(exc: BaseException) -> bool:
    """A read timeout or a dropped connection: the request may have arrived (a refused one did not)."""
    try:
        from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
    except ImportError:  # pragma: no cover - botocore is a hard dependency
        return False
    return isinstance(exc, (ConnectionClosedError, ReadTimeoutError))


def submit_run(backend: JobBackend, run: PlannedRun) -> SubmittedRun:
    """Write the run record, submit, then record the job id beside it."""
    store = backend.store
    write_run_record(store, run.run_id, run_record(run, backend.name))
    try:
        job = backend.submit(run.request)
    except BaseException as exc:
        if sent_but_unanswered(exc):  # the job may run: its run record stays for it
            raise SubmitUnanswered(run.request.job_name, run.run_uri, exc) from exc
        # Nothing runs for this record: remove it rather than leave a run that never was.
        try:
            store.delete(RunLayout(run.run_id).run_spec)
        except Exception:  # noqa: BLE001 - the submit error is the one worth reporting
            pass
        raise
    write_run_record(store, run.run_id, run_record(run, backend.name, job))
    return SubmittedRun(run=run, job=job)
