"""Starting training: ``submit`` (one job) and ``pipeline`` (upload, submit, monitor, download in one go).

The seed's flags (``--training-data``, ``--s3-bucket``, ``--job-queue``, ``--job-definition``,
``--job-name``, ``--output-dir``, ``--config-learning-rate``, ``--config-batch-size``) keep working.
"""

import json
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import (
    ForceOpt, JsonOpt, OutputDirOpt, TimeoutOpt, acts_on_target, parse_timeout, trains,
)
from ocrbatch.cli.progress import ProgressBar
from ocrbatch.cli.watch import job_monitor
from ocrbatch.errors import BadInput, WaitTimedOut
from ocrbatch.wiring import Target

if TYPE_CHECKING:  # imported when a command trains, not on every command's start
    from ocrbatch.jobs.submission import TrainingOptions


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("pipeline")(pipeline)


@acts_on_target(batch=True)
@trains()
def submit(
    target: Target,
    training: "TrainingOptions",
    dataset: str | None,
    dataset_name: str | None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print exactly what would be submitted; submit nothing.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Start a training job on a dataset version (a folder is uploaded first)."""
    from ocrbatch.jobs.submission import SubmitUnanswered, newest_dataset, plan_run, resolve_dataset, submit_run

    backend = common.open_backend(target)
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
        with ProgressBar() as bar:
            version = resolve_dataset(
                store, dataset, name=dataset_name, task=training.task,
                on_publish=lambda folder: common.info(f"uploading {folder} to {store.uri()} ..."),
                progress=bar,
            )
        dataset_uri, dataset_task = version.uri, getattr(version, "task", None)
    run = plan_run(store, dataset_uri, training, dataset_task=dataset_task)

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

    try:
        submitted = submit_run(backend, run)
    except SubmitUnanswered as unanswered:
        raise unanswered.listed_with(f"ocrbatch list{common.backend_flags(target)}") from None
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
        queue = (job.queue or run.request.queue).rsplit("/", 1)[-1]  # the queue it went to, not its kind
        common.info(f"submitted {job.job_name} to queue {queue}; run {run.run_uri}")
        common.info(f"follow it: ocrbatch monitor {job.job_id}{common.backend_flags(target)}")
        typer.echo(job.job_id)


@acts_on_target(batch=True)
@trains()
def pipeline(
    target: Target,
    training: "TrainingOptions",
    dataset: str | None,
    dataset_name: str | None,
    output_dir: OutputDirOpt = None,
    force: ForceOpt = False,
    no_logs: Annotated[bool, typer.Option("--no-logs", help="Do not tail the job's log while it runs.")] = False,
    timeout: TimeoutOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Upload, submit, monitor and download in one command (exit 1 if the job fails, 124 on --timeout)."""
    from ocrbatch.jobs.pipeline import Pipeline

    timeout_s = parse_timeout(timeout)
    if not dataset:
        raise BadInput("--training-data is required: a folder (or --dataset VERSION)")
    backend = common.open_backend(target)
    with ProgressBar() as bar:
        flow = Pipeline(
            backend=backend,
            follow=partial(job_monitor(backend, show_logs=not no_logs).follow, timeout=timeout_s),
            step=common.info,
            progress=bar.stage("downloading"),
            upload_progress=bar,
        )
        try:
            result = flow.run(dataset, training, output_dir, dataset_name=dataset_name, force=force)
        except (KeyboardInterrupt, WaitTimedOut) as stopped:
            if flow.job is None:
                raise
            timed_out = isinstance(stopped, WaitTimedOut)
            common.detach_hint(flow.job.job_id, target, headline=str(stopped) if timed_out else None)
            common.info(f"  download: ocrbatch download {flow.job.job_id} --output-dir DIR{common.backend_flags(target)}")
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
