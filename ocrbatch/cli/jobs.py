"""Commands of the job lifecycle: submit, monitor, logs, list, cancel, download, pipeline.

A thin shell over ``ocrbatch.jobs``: each command resolves the shared flags to a backend (AWS Batch
or local processes, built by ``ocrbatch.wiring``), calls one service and prints. Results on stdout, live
status on stderr; the seed's flags (``--training-data``, ``--s3-bucket``, ``--job-queue``,
``--job-definition``, ``--job-name``, ``--job-id``, ``--output-dir``, ``--config-learning-rate``,
``--config-batch-size``) keep working.
"""

import json
import re
import sys
import time
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ocrbatch.cli import common
from ocrbatch.cli.common import BucketOpt, HomeOpt, JsonOpt, LocalOpt, ProfileOpt, RegionOpt, StackOpt, Target
from ocrbatch.errors import BadInput, WaitTimedOut
from ocrbatch.jobs.backend import JobBackend, JobInfo

# Injected into the monitor; tests replace them with a fake clock so nothing really waits.
clock = time.time
sleep = time.sleep

# --- options of this group (the shared ones live in common.py) ---------------------------------

JobQueueOpt = Annotated[
    Optional[str], typer.Option("--job-queue", help="Batch job queue to use instead of the stack's.")
]
JobDefinitionOpt = Annotated[
    Optional[str], typer.Option("--job-definition", help="Batch job definition to use instead of the stack's.")
]
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
OutputDirOpt = Annotated[Optional[Path], typer.Option("--output-dir", help="Where the model is written.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace a different model already in --output-dir.")]


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("monitor")(monitor)
    app.command("logs")(logs)
    app.command("list")(list_jobs)
    app.command("cancel")(cancel)
    app.command("download")(download)
    app.command("pipeline")(pipeline)


# --- shared plumbing ----------------------------------------------------------------------------


def _target(local, stack, region, profile, bucket=None, job_queue=None, job_definition=None, home=None) -> Target:
    return common.make_target(
        local, stack=stack, region=region, profile=profile, bucket=bucket,
        job_queue=job_queue, job_definition=job_definition, home=home,
    )


def _backend(target: Target) -> JobBackend:
    return common.wire(target).backend


def _job_target(ref: str, local, stack, region, profile, bucket, job_queue, home) -> Target:
    """Like :func:`_target`, but a Batch job id alone means AWS (the seed's `monitor --job-id ID`)."""
    return common.make_target(
        local, job_ref=ref, stack=stack, region=region, profile=profile, bucket=bucket, job_queue=job_queue, home=home
    )


def _job_ref(job: str | None, job_id: str | None, *, default: str | None = None) -> str:
    if job and job_id and job != job_id:
        raise BadInput(f"two different jobs named: {job} and --job-id {job_id}")
    ref = job or job_id or default
    if not ref:
        raise BadInput("name a job: ocrbatch COMMAND JOB_ID (or `latest`)")
    return ref


def _backend_flags(target: Target) -> str:
    """The flags that point another command at the same backend (for the hints we print)."""
    if target.local:
        return " --local" + (f" --home {target.home}" if target.home else "")
    flags = " --aws"
    for flag, value in (("--stack", target.stack), ("--region", target.region), ("--profile", target.profile)):
        if value:
            flags += f" {flag} {value}"
    return flags


def _training_options(
    *, engine, task, model, epochs, learning_rate, batch_size, overrides, queue, gpus, job_name, target: Target
):
    from ocrbatch.jobs.submission import TrainingOptions
    from ocrbatch.trainer.spec import parse_overrides

    return TrainingOptions(
        engine=engine, task=task, model=model, epochs=epochs, learning_rate=learning_rate,
        batch_size=batch_size, overrides=parse_overrides(overrides or []), queue=queue, gpus=gpus,
        job_name=job_name, job_queue=target.job_queue, job_definition=target.job_definition,
    )


def _monitor(backend: JobBackend, *, show_logs: bool = True):
    from ocrbatch.jobs.monitor import JobMonitor

    return JobMonitor(backend, emit=common.info, clock=clock, sleep=sleep, show_logs=show_logs)


def _parse_timeout(text: str | None) -> float | None:
    """``--timeout`` in seconds: a number, optionally with s, m or h."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not match or float(match[1]) <= 0:
        raise BadInput(f"--timeout must be a positive duration such as 600, 90s, 30m or 2h, got {text!r}")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[match[2]]


def _detach_hint(job_id: str, target: Target, headline: str | None = None) -> None:
    flags = _backend_flags(target)
    common.info(headline or f"detached from job {job_id}; it keeps running.")
    common.info(f"  reattach: ocrbatch monitor {job_id}{flags}")
    common.info(f"  cancel:   ocrbatch cancel {job_id}{flags}")


class _ByteProgress:
    """Download progress on stderr: a rewritten line on a terminal, one line at the end otherwise."""

    def __init__(self, label: str):
        self.label = label
        self.tty = common.stderr_is_tty()
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        finished = done >= total
        if not self.tty and not finished:
            return
        if self.tty and not finished and now - self.last < 0.2:
            return
        self.last = now
        percent = 100 * done / total if total else 100
        text = f"{self.label}: {common.human_bytes(done)} of {common.human_bytes(total)} ({percent:.0f}%)"
        if self.tty:
            sys.stderr.write("\r" + text + ("\n" if finished else ""))
            sys.stderr.flush()
        else:
            common.info(text)


class _StageProgress:
    """Dataset upload progress ``(stage, done, total)``: a rewritten line per stage on a terminal,
    otherwise one line when a stage starts and one when it ends."""

    def __init__(self, indent: str = ""):
        self.indent = indent
        self.tty = common.stderr_is_tty()
        self.stage: str | None = None
        self.line_open = False  # a terminal line without its newline yet
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished = bool(total) and done >= total
        new_stage = stage != self.stage
        if not new_stage and not finished and (not self.tty or now - self.last < 0.2):
            return
        if not new_stage and finished and not self.line_open and not self.tty:
            return  # this stage's end was printed already
        self.stage, self.last = stage, now
        if stage == "validating":
            amount = f"{done} of {total} images"
        else:
            amount = f"{common.human_bytes(done)} of {common.human_bytes(total)}"
        text = f"{self.indent}{stage}: {amount}"
        if self.tty:
            if new_stage and self.line_open:
                sys.stderr.write("\n")
            sys.stderr.write("\r" + text + ("\n" if finished else ""))
            sys.stderr.flush()
            self.line_open = not finished
        else:
            common.info(text)
            self.line_open = not finished


def _finish(job: JobInfo, data: dict, json_output: bool) -> None:
    """Print a job's final result and exit 1 when it failed."""
    from ocrbatch.jobs.monitor import describe_snapshot

    if json_output:
        common.emit_json(data)
    else:
        for line in describe_snapshot(data):
            typer.echo(line)
    if job.status == "FAILED":
        raise typer.Exit(1)


# --- submit ---------------------------------------------------------------------------------------


@common.handle_errors
def submit(
    dataset: DatasetOpt = None,
    dataset_name: DatasetNameOpt = None,
    queue: QueueOpt = "gpu",
    gpus: GpusOpt = 1,
    job_name: JobNameOpt = None,
    engine: EngineOpt = "builtin",
    task: TaskOpt = None,
    model: ModelOpt = None,
    epochs: EpochsOpt = None,
    learning_rate: LearningRateOpt = None,
    batch_size: BatchSizeOpt = None,
    overrides: SetOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print exactly what would be submitted; submit nothing.")] = False,
    local: LocalOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    bucket: BucketOpt = None,
    job_queue: JobQueueOpt = None,
    job_definition: JobDefinitionOpt = None,
    home: HomeOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Start a training job on a dataset version (a folder is uploaded first)."""
    from ocrbatch.jobs.submission import newest_dataset, plan_run, resolve_dataset, submit_run

    target = _target(local, stack, region, profile, bucket, job_queue, job_definition, home)
    options = _training_options(
        engine=engine, task=task, model=model, epochs=epochs, learning_rate=learning_rate,
        batch_size=batch_size, overrides=overrides, queue=queue, gpus=gpus, job_name=job_name, target=target,
    )
    backend = _backend(target)
    store = backend.store
    if not dataset:
        version = newest_dataset(store)
        common.info(f"no --dataset given: using the newest dataset version, {version.uri}")
        dataset_uri, dataset_task = version.uri, getattr(version, "task", None)
    elif dry_run and Path(dataset).expanduser().is_dir():
        # Nothing is uploaded in a dry run: show where the folder's version would go.
        from ocrbatch.layout import DatasetLayout

        name = dataset_name or Path(dataset).expanduser().resolve().name
        dataset_uri, dataset_task = store.uri(DatasetLayout(name).version("<published-on-submit>")), None
    else:
        version = resolve_dataset(
            store, dataset, name=dataset_name, task=task,
            on_publish=lambda folder: common.info(f"uploading {folder} to {store.uri()} ..."),
            progress=_StageProgress(),
        )
        dataset_uri, dataset_task = version.uri, getattr(version, "task", None)
    run = plan_run(store, dataset_uri, options, dataset_task=dataset_task)

    if dry_run:
        plan = {
            "backend": backend.name,
            "dry_run": True,
            "job_name": run.request.job_name,
            "run_id": run.run_id,
            "run_uri": run.run_uri,
            "dataset": dataset_uri,
            "queue": run.request.queue,
            "gpus": run.request.gpus,
            "environment": run.request.spec.to_env(),
        }
        kwargs_of = getattr(backend, "submit_job_kwargs", None)
        if kwargs_of:
            plan["submit_job"] = kwargs_of(run.request)
        if json_output:
            common.emit_json(plan)
        else:
            common.info(f"would submit on the {backend.name} backend (dry run, nothing submitted):")
            typer.echo(json.dumps(plan.get("submit_job") or plan, indent=2, sort_keys=True))
        return

    submitted = submit_run(backend, run)
    job = submitted.job
    if json_output:
        common.emit_json(
            {
                "job_id": job.job_id,
                "job_name": job.job_name,
                "run_id": run.run_id,
                "run_uri": run.run_uri,
                "dataset": dataset_uri,
                "queue": run.request.queue,
                "job_queue": job.queue,
                "backend": backend.name,
            }
        )
    else:
        common.info(f"submitted {job.job_name} ({run.request.queue} queue); run {run.run_uri}")
        common.info(f"follow it: ocrbatch monitor {job.job_id}{_backend_flags(target)}")
        typer.echo(job.job_id)


# --- monitor --------------------------------------------------------------------------------------


@common.handle_errors
def monitor(
    job: JobArg = None,
    job_id: JobIdOpt = None,
    once: Annotated[bool, typer.Option("--once", "--no-follow", help="Print the current state and exit.")] = False,
    no_logs: Annotated[bool, typer.Option("--no-logs", help="Do not tail the job's log.")] = False,
    timeout: TimeoutOpt = None,
    local: LocalOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    bucket: BucketOpt = None,
    job_queue: JobQueueOpt = None,
    home: HomeOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Follow a job to its end (exit 0 SUCCEEDED, 1 FAILED, 124 --timeout). Ctrl-C detaches; the job keeps running."""
    from ocrbatch.jobs.monitor import snapshot
    from ocrbatch.jobs.runs import resolve_job

    timeout_s = _parse_timeout(timeout)
    ref = _job_ref(job, job_id)
    target = _job_target(ref, local, stack, region, profile, bucket, job_queue, home)
    backend = _backend(target)
    current = resolve_job(backend, ref)
    if not once:
        try:
            current = _monitor(backend, show_logs=not no_logs).follow(current.job_id, timeout=timeout_s)
        except KeyboardInterrupt:
            _detach_hint(current.job_id, target)
            raise typer.Exit(130)
        except WaitTimedOut as stopped:
            current = backend.describe(current.job_id)
            if not current.done:  # it may have ended in the moment since the last poll
                _detach_hint(current.job_id, target, headline=str(stopped))
                _finish(current, snapshot(backend, current), json_output)
                raise typer.Exit(stopped.exit_code)
    _finish(current, snapshot(backend, current), json_output)


# --- logs -----------------------------------------------------------------------------------------


@common.handle_errors
def logs(
    job: JobArg = None,
    job_id: JobIdOpt = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until the job ends.")] = False,
    local: LocalOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    bucket: BucketOpt = None,
    job_queue: JobQueueOpt = None,
    home: HomeOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Print a job's log (the current attempt's stream)."""
    from ocrbatch.jobs.runs import resolve_job

    if follow and json_output:
        raise BadInput("--follow streams text lines; use --json without --follow")
    ref = _job_ref(job, job_id)
    target = _job_target(ref, local, stack, region, profile, bucket, job_queue, home)
    backend = _backend(target)
    current = resolve_job(backend, ref)
    token: str | None = None
    collected: list[str] = []
    interval = 2.0
    try:
        while True:
            lines, token = backend.log_events(current.job_id, start_from=token)
            if json_output:
                collected.extend(lines)
            else:
                for line in lines:
                    typer.echo(line)
            if lines:
                interval = 2.0
                continue  # more may be waiting: read until caught up
            if not follow or current.done:
                break
            sleep(interval)
            interval = min(interval * 1.5, 15.0)
            current = backend.describe(current.job_id)
    except KeyboardInterrupt:
        common.info(f"stopped following; the job keeps running (ocrbatch logs {current.job_id} -f{_backend_flags(target)})")
        raise typer.Exit(130)
    if json_output:
        common.emit_json({"job_id": current.job_id, "status": current.status, "lines": collected})
    elif not collected and token is None and not current.log_stream:
        common.info(f"no log yet: job {current.job_id} is {current.status} (the log appears once it starts)")


# --- list -----------------------------------------------------------------------------------------


@common.handle_errors
def list_jobs(
    limit: Annotated[int, typer.Option("--limit", help="Most recent jobs to show.", min=1)] = 20,
    local: LocalOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    bucket: BucketOpt = None,
    job_queue: JobQueueOpt = None,
    home: HomeOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Recent jobs with status, age, dataset and accuracy."""
    from ocrbatch.jobs.monitor import format_duration
    from ocrbatch.jobs.runs import run_accuracy, run_id_from_uri, store_of

    target = _target(local, stack, region, profile, bucket, job_queue, home=home)
    backend = _backend(target)
    store = store_of(backend)
    now = clock()
    rows = []
    for info in backend.list_jobs(limit=limit):
        rows.append(
            {
                "job_id": info.job_id,
                "job_name": info.job_name,
                "status": info.status,
                "status_reason": info.status_reason,
                "queue": info.queue,
                "created_at": info.created_at,
                "age_seconds": round(now - info.created_at, 1) if info.created_at else None,
                "dataset": info.dataset,
                "run_id": run_id_from_uri(info.output),
                "accuracy": run_accuracy(store, info),
            }
        )
    if json_output:
        common.emit_json({"backend": backend.name, "jobs": rows})
        return
    if not rows:
        common.info(f"no jobs on the {backend.name} backend yet; start one with `ocrbatch submit`")
        return
    table = [("JOB ID", "NAME", "STATUS", "AGE", "DATASET", "ACCURACY")]
    for row in rows:
        table.append(
            (
                row["job_id"],
                row["job_name"],
                row["status"],
                format_duration(row["age_seconds"]) if row["age_seconds"] is not None else "-",
                _short_dataset(row["dataset"]),
                f"{row['accuracy']:.1%}" if row["accuracy"] is not None else "-",
            )
        )
    widths = [max(len(str(line[i])) for line in table) for i in range(len(table[0]))]
    for line in table:
        typer.echo("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())


def _short_dataset(uri: str | None) -> str:
    """``.../datasets/<name>/versions/<id>`` -> ``<name>@<id[:12]>``."""
    from ocrbatch.layout import parse_dataset_version

    if not uri:
        return "-"
    parsed = parse_dataset_version(uri)
    return f"{parsed[0]}@{parsed[1][:12]}" if parsed else uri


# --- cancel ---------------------------------------------------------------------------------------


@common.handle_errors
def cancel(
    job: JobArg = None,
    job_id: JobIdOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="Recorded on the job.")] = "cancelled with ocrbatch cancel",
    local: LocalOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    bucket: BucketOpt = None,
    job_queue: JobQueueOpt = None,
    home: HomeOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Cancel a waiting job or terminate a running one (its trainer saves a checkpoint first)."""
    from ocrbatch.jobs.runs import resolve_job

    ref = _job_ref(job, job_id)
    target = _job_target(ref, local, stack, region, profile, bucket, job_queue, home)
    backend = _backend(target)
    before = resolve_job(backend, ref)
    if before.done:
        action = "none"
        message = f"job {before.job_id} already {before.status}; nothing to cancel"
    else:
        backend.cancel(before.job_id, reason)
        if before.status in ("SUBMITTED", "PENDING", "RUNNABLE"):
            action, message = "cancel", f"cancelled job {before.job_id} (it was {before.status})"
        else:
            action = "terminate"
            message = f"terminating job {before.job_id} (it was {before.status}); it ends as FAILED"
    if json_output:
        common.emit_json({"job_id": before.job_id, "previous_status": before.status, "action": action})
    else:
        typer.echo(message)


# --- download -------------------------------------------------------------------------------------


@common.handle_errors
def download(
    job: JobArg = None,
    job_id: JobIdOpt = None,
    output_dir: OutputDirOpt = None,
    force: ForceOpt = False,
    local: LocalOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    bucket: BucketOpt = None,
    job_queue: JobQueueOpt = None,
    home: HomeOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Fetch a job's model (default: the latest succeeded job) and verify it against its manifest."""
    from ocrbatch.jobs.runs import download_model, resolve_job

    if output_dir is None:
        raise BadInput("--output-dir is required: the folder to write the model to")
    ref = _job_ref(job, job_id, default="latest")
    target = _job_target(ref, local, stack, region, profile, bucket, job_queue, home)
    backend = _backend(target)
    current = resolve_job(backend, ref, succeeded=ref == "latest")
    common.info(f"downloading the model of job {current.job_id} ({current.job_name})")
    result = download_model(backend, current, output_dir, force=force, progress=_ByteProgress("downloading"))
    if json_output:
        common.emit_json(result)
        return
    accuracy = f", accuracy {result['accuracy']:.1%}" if result["accuracy"] is not None else ""
    typer.echo(f"model of job {result['job_id']} in {result['output_dir']} ({result['files']} files verified{accuracy})")


# --- pipeline -------------------------------------------------------------------------------------


@common.handle_errors
def pipeline(
    dataset: DatasetOpt = None,
    dataset_name: DatasetNameOpt = None,
    output_dir: OutputDirOpt = None,
    force: ForceOpt = False,
    queue: QueueOpt = "gpu",
    gpus: GpusOpt = 1,
    job_name: JobNameOpt = None,
    engine: EngineOpt = "builtin",
    task: TaskOpt = None,
    model: ModelOpt = None,
    epochs: EpochsOpt = None,
    learning_rate: LearningRateOpt = None,
    batch_size: BatchSizeOpt = None,
    overrides: SetOpt = None,
    no_logs: Annotated[bool, typer.Option("--no-logs", help="Do not tail the job's log while it runs.")] = False,
    timeout: TimeoutOpt = None,
    local: LocalOpt = None,
    stack: StackOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    bucket: BucketOpt = None,
    job_queue: JobQueueOpt = None,
    job_definition: JobDefinitionOpt = None,
    home: HomeOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Upload, submit, monitor and download in one command (exit 1 if the job fails, 124 on --timeout)."""
    from functools import partial

    from ocrbatch.jobs.pipeline import Pipeline

    timeout_s = _parse_timeout(timeout)
    if not dataset:
        raise BadInput("--training-data is required: a folder (or --dataset VERSION)")
    target = _target(local, stack, region, profile, bucket, job_queue, job_definition, home)
    options = _training_options(
        engine=engine, task=task, model=model, epochs=epochs, learning_rate=learning_rate,
        batch_size=batch_size, overrides=overrides, queue=queue, gpus=gpus, job_name=job_name, target=target,
    )
    backend = _backend(target)
    flow = Pipeline(
        backend=backend,
        follow=partial(_monitor(backend, show_logs=not no_logs).follow, timeout=timeout_s),
        step=common.info,
        progress=_ByteProgress("      downloading"),
        upload_progress=_StageProgress("      "),
    )
    try:
        result = flow.run(dataset, options, output_dir, dataset_name=dataset_name, force=force)
    except (KeyboardInterrupt, WaitTimedOut) as stopped:
        if flow.job is None:
            raise
        timed_out = isinstance(stopped, WaitTimedOut)
        _detach_hint(flow.job.job_id, target, headline=str(stopped) if timed_out else None)
        common.info(f"  download: ocrbatch download {flow.job.job_id} --output-dir DIR{_backend_flags(target)}")
        raise typer.Exit(stopped.exit_code if timed_out else 130)
    if json_output:
        common.emit_json(result)
    elif result["status"] == "SUCCEEDED":
        accuracy = f" (accuracy {result['accuracy']:.1%})" if result["accuracy"] is not None else ""
        typer.echo(f"SUCCEEDED job {result['job_id']}: model in {result['model_dir']}{accuracy}")
    else:
        typer.echo(f"{result['status']} job {result['job_id']}: {result['status_reason'] or 'no reason given'}")
    if result["status"] != "SUCCEEDED":
        raise typer.Exit(1)
