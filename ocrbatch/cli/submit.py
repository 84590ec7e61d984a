"""Starting training: ``submit`` (one job) and ``pipeline`` (upload, submit, monitor, download in one go).

The seed's flags (``--training-data``, ``--s3-bucket``, ``--job-queue``, ``--job-definition``,
``--job-name``, ``--output-dir``, ``--config-learning-rate``, ``--config-batch-size``) keep working.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import (
    ForceOpt, JsonOpt, OutputDirOpt, TimeoutOpt, acts_on_target, parse_timeout, trains,
)
from ocrbatch.cli.progress import ProgressBar
from ocrbatch.cli.watch import job_monitor
from ocrbatch.errors import WaitTimedOut
from ocrbatch.wiring import Deadline, Target

if TYPE_CHECKING:  # imported when a command trains, not on every command's start
    from ocrbatch.jobs.dataset_choice import DatasetChoice
    from ocrbatch.jobs.submission import TrainingOptions


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("pipeline")(pipeline)


@acts_on_target(batch=True)
@trains()
def submit(
    target: Target,
    training: "TrainingOptions",
    dataset: "DatasetChoice",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print exactly what would be submitted and what it may cost; submit nothing.")
    ] = False,
    json_output: JsonOpt = False,
) -> None:
    """Start a training job on a dataset version (a folder is uploaded first)."""
    from ocrbatch.jobs.submission import SubmitUnanswered, destination, plan_run, submit_run

    backend = common.open_backend(target)
    dataset_uri, dataset_task = chosen_dataset(backend, training, dataset, dry_run=dry_run)
    run = plan_run(backend.store, dataset_uri, training, dataset_task=dataset_task)

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
        plan["estimate"] = price_plan(target, backend, run.request)
        if json_output:
            common.emit_json(plan)
        else:
            common.info(f"would submit on the {backend.name} backend (dry run, nothing submitted):")
            typer.echo(json.dumps(plan.get("submit_job") or plan, indent=2, sort_keys=True))
            for line in describe_estimate(plan["estimate"]):
                typer.echo(line)
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
        common.info(f"submitted {job.job_name} to {destination(backend, job, run.request)}; run {run.run_uri}")
        common.info(f"follow it: ocrbatch monitor {job.job_id}{common.backend_flags(target)}")
        typer.echo(job.job_id)


def price_plan(target: Target, backend, request, runs=()) -> dict:
    """What a dry run's job may cost (``runs``: a sweep's children, each priced), as JSON: priced on AWS;
    a local run uses no cloud GPU."""
    if backend.name != "aws":
        return {"backend": backend.name, "usd_low": 0.0, "usd_high": 0.0, "note": "local run: no cloud GPU, no cost"}
    from ocrbatch.jobs.cost_estimate import estimate_submission

    spot, on_demand = common.open_prices(target)
    found = estimate_submission(backend, request, runs, spot=spot, on_demand=on_demand)
    return {"backend": backend.name, **found.to_json()}


def describe_estimate(data: dict) -> list[str]:
    """Human lines for :func:`price_plan`'s JSON."""
    if data.get("backend") != "aws":
        return [f"cost: none ({data.get('note')})"]
    lines = [f"estimate in {data['region']}: hours {_hours(data['hours'])} ({data['hours_basis']})"]
    table = [("  INSTANCE TYPE", "LIFECYCLE", "GPUS", "SPOT $/H NOW", "ON-DEMAND $/H")]
    for row in data["instance_types"]:
        spot = "-" if row["spot_low"] is None else (
            f"{row['spot_low']:.4f}" if row["spot_low"] == row["spot_high"] else f"{row['spot_low']:.4f}-{row['spot_high']:.4f}")
        table.append((f"  {row['instance_type']}", row["lifecycle"], "?" if row["gpus"] is None else str(row["gpus"]),
                      spot, "?" if row["on_demand"] is None else f"{row['on_demand']:.3f}"))
    lines += _rows(table)
    low, high = data["usd_per_hour_low"], data["usd_per_hour_high"]
    if low is None or high is None:
        lines.append("may cost: unknown (no price for any instance type the queue may use)")
    elif data["usd_low"] is None:
        lines.append(f"may cost: ${low:.4f} to ${high:.4f} per hour (pass --max-hours to price a run)")
    else:
        lines.append(f"may cost: ${data['usd_low']:.2f} to ${data['usd_high']:.2f} "
                     f"(${low:.4f} to ${high:.4f} per hour x {_hours(data['hours'])} h)")
    lines.append(f"on-demand prices: {data['on_demand_source']}")
    lines += [f"note: {note}" for note in data["notes"]]
    return lines


def _hours(hours: float | None) -> str:
    return "?" if hours is None else f"{hours:g}"


def _rows(table: list[tuple]) -> list[str]:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table]


def chosen_dataset(backend, training: "TrainingOptions", dataset: "DatasetChoice", *, dry_run: bool) -> tuple[str, str | None]:
    """The dataset version a training command uses (URI and task): the one named, a folder's (validated,
    then published, or in a dry run only validated: the version it would publish), or the newest one."""
    from ocrbatch.jobs.dataset_choice import planned_version, resolve_dataset

    store = backend.store
    folder = dataset.folder()
    with ProgressBar() as bar:
        if dry_run and folder is not None:
            return planned_version(store, folder, dataset, task=training.task, say=common.info, progress=bar)
        version = resolve_dataset(store, dataset, task=training.task, say=common.info, progress=bar)
    if getattr(version, "split", None):
        from ocrbatch.datasets.split import HeldOutSplit

        common.info(f"{version.ref}: {HeldOutSplit.from_json(version.split).summary()}")
    return version.uri, getattr(version, "task", None)


@acts_on_target(batch=True)
@trains()
def pipeline(
    target: Target,
    training: "TrainingOptions",
    dataset: "DatasetChoice",
    output_dir: OutputDirOpt = None,
    force: ForceOpt = False,
    no_logs: Annotated[bool, typer.Option("--no-logs", help="Do not tail the job's log while it runs.")] = False,
    timeout: TimeoutOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Upload, submit, monitor and download in one command (exit 1 if the job fails, 124 on --timeout)."""
    from ocrbatch.jobs.monitor import PollSettings
    from ocrbatch.jobs.pipeline import Pipeline

    timeout_s = parse_timeout(timeout)
    deadline = Deadline()  # --timeout bounds following the job, not the upload before it or the download after
    backend = common.open_backend(target, deadline)
    monitor = job_monitor(backend, show_logs=not no_logs)

    def follow(job_id: str):
        if timeout_s is not None:
            deadline.start(timeout_s + PollSettings().deadline_grace)
        try:
            return monitor.follow(job_id, timeout=timeout_s)
        finally:
            deadline.clear()

    with ProgressBar() as bar:
        flow = Pipeline(
            backend=backend,
            follow=follow,
            step=common.info,
            progress=bar.stage("downloading"),
            upload_progress=bar,
        )
        try:
            result = flow.run(dataset, training, output_dir, force=force)
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
        if result.get("report"):
            typer.echo(f"report: {result['report']}")
    else:
        typer.echo(f"{result['status']} job {result['job_id']}: {result['status_reason'] or 'no reason given'}")
    if result["status"] != "SUCCEEDED":
        raise typer.Exit(1)
