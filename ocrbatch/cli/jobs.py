"""Jobs already submitted: ``list``, ``cancel`` and ``download`` (a job's model, verified).

A thin shell over ``ocrbatch.jobs``; ``submit``/``pipeline`` live in ``submit.py`` and
``monitor``/``logs`` in ``watch.py``. Results on stdout, hints on stderr.
"""

from typing import Annotated, Optional

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import ForceOpt, JsonOpt, OutputDirOpt, acts_on_target
from ocrbatch.cli.progress import ProgressBar
from ocrbatch.errors import BadInput
from ocrbatch.wiring import Target


def register(app: typer.Typer) -> None:
    app.command("list")(list_jobs)
    app.command("cancel")(cancel)
    app.command("download")(download)


@acts_on_target(batch=True)
def list_jobs(
    target: Target,
    sweep: Annotated[
        Optional[str], typer.Argument(help="A sweep's job id: list its children.", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most recent jobs to show.", min=1)] = 20,
    expand: Annotated[bool, typer.Option("--expand", help="Also list each sweep's children under it.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Recent jobs: status (CANCELLED for a job `ocrbatch cancel` ended, which Batch calls FAILED), age,
    dataset, accuracy, Spot reclaims (locally: interruptions) with what they cost, and on AWS each run's
    GPU-hours and dollars. A sweep is one row (its children's states and its best accuracy); --expand or
    `list SWEEP` shows them."""
    from ocrbatch.jobs.backend import shown_status
    from ocrbatch.jobs.job_report import cost_cell, format_duration, reclaim_cost
    from ocrbatch.jobs.run_costs import job_cost
    from ocrbatch.jobs.runs import read_progress, resolve_job, run_accuracy, run_id_from_uri, store_of
    from ocrbatch.jobs.sweeps import describe_settings

    backend = common.open_backend(target)
    store = store_of(backend)
    now = common.clock()
    if sweep:
        parent = resolve_job(backend, sweep, say=common.info)
        if not parent.is_sweep:
            raise BadInput(f"job {parent.job_id} is not a sweep; `ocrbatch list` lists jobs")
        jobs, expand = [parent], True
    else:
        jobs = backend.list_jobs(limit=limit)
    rows = []
    for info in jobs:
        row = {
            "job_id": info.job_id,
            "job_name": info.job_name,
            "status": info.status,
            "status_reason": info.status_reason,
            "cancelled": info.cancelled,
            "queue": info.queue,
            "created_at": info.created_at,
            "age_seconds": round(now - info.created_at, 1) if info.created_at else None,
            "dataset": info.dataset,
            "run_id": run_id_from_uri(info.output),
        }
        if info.is_sweep:
            from ocrbatch.cli.sweep import sweep_rows

            summary, children = sweep_rows(backend, info)
            best = summary["best"]
            row.update(sweep_size=summary["size"], children_by_status=summary["counts"],
                       accuracy=best["accuracy"] if best else None, best_child=best["job_id"] if best else None,
                       reclaims=None, lost_training_seconds=None,  # per child: `ocrbatch monitor SWEEP:INDEX`
                       gpu_hours=None, cost_usd=None, cost=None)
            if expand:
                row["children"] = children
        else:
            row["accuracy"] = run_accuracy(store, info)
            # progress.json is read only for jobs that were reclaimed
            row.update(reclaim_cost(info, read_progress(store, info) if "reclaimed" in info.attempt_ends() else None))
            cost = job_cost(backend, info, now=now)
            row.update(gpu_hours=cost.gpu_hours if cost else None, cost_usd=cost.usd if cost else None,
                       cost=cost.to_json() if cost else None)
        rows.append(row)
    if json_output:
        common.emit_json({"backend": backend.name, "jobs": rows})
        return
    if not rows:
        common.info(f"no jobs on the {backend.name} backend yet; start one with `ocrbatch submit`")
        return
    # A local job is interrupted (runner or trainer killed, a drill), never reclaimed: no Spot there.
    interruptions = "INTERRUPTED" if backend.name == "local" else "RECLAIMS"
    priced = backend.name != "local"  # a local run costs nothing: no COST column there
    table = [("JOB ID", "NAME", "STATUS", "AGE", "DATASET", "ACCURACY", interruptions) + (("COST",) if priced else ())]
    for row in rows:
        status = shown_status(row["status"], row["cancelled"])
        if "sweep_size" in row:
            done = sum(row["children_by_status"].get(state, 0) for state in ("SUCCEEDED", "FAILED"))
            status += f" sweep {done}/{row['sweep_size']}"
        table.append(
            (
                row["job_id"],
                row["job_name"],
                status,
                format_duration(row["age_seconds"]) if row["age_seconds"] is not None else "-",
                _short_dataset(row["dataset"]),
                f"{row['accuracy']:.1%}" if row["accuracy"] is not None else "-",
                _reclaims(row) if "sweep_size" not in row else "-",
            ) + ((cost_cell(row["cost"]),) if priced else ())
        )
        for child in row.get("children", []):
            accuracy = f"{child['accuracy']:.1%}" if child["accuracy"] is not None else "-"
            settings = describe_settings(child["settings"])
            table.append((f"  {child['job_id']}", f"  {settings}", shown_status(child["status"], child["cancelled"]),
                          "", "", accuracy, "")
                         + (("",) if priced else ()))
    common.print_table(table)


def _reclaims(row: dict) -> str:
    """``2 (lost 14s)``: reclaims are not failures, but they cost training time."""
    from ocrbatch.jobs.job_report import format_duration

    if not row["reclaims"]:
        return "-"
    lost = row["lost_training_seconds"]
    if lost is None:
        return str(row["reclaims"])
    return f"{row['reclaims']} ({'nothing lost' if lost == 0 else 'lost ' + format_duration(lost)})"


def _short_dataset(uri: str | None) -> str:
    """``.../datasets/<name>/versions/<id>`` -> ``<name>@<id[:12]>``."""
    from ocrbatch.layout import parse_dataset_version

    if not uri:
        return "-"
    parsed = parse_dataset_version(uri)
    return f"{parsed[0]}@{parsed[1][:12]}" if parsed else uri


@acts_on_target(batch=True, job="required")
def cancel(
    target: Target,
    job: str,
    reason: Annotated[
        Optional[str],
        typer.Option("--reason", help="Why, recorded on the job after 'cancelled with ocrbatch cancel'.", show_default=False),
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Cancel a waiting job or terminate a running one (its trainer saves a checkpoint first); a sweep: all its children."""
    from ocrbatch.jobs.backend import CANCELLABLE_STATES, cancel_reason
    from ocrbatch.jobs.runs import resolve_job

    reason = cancel_reason(reason)  # marked, so `list` can tell a job we cancelled from one that failed
    backend = common.open_backend(target)
    before = resolve_job(backend, job, flags=common.backend_flags(target), say=common.info)
    if before.done:
        backend.cancel(before.job_id, reason)  # a local job's stray processes stop even so
        action = "none"
        message = f"job {before.job_id} already {before.status}; nothing to cancel"
    elif before.cancel_requested:  # asked twice: nothing new is sent, and the answer says what is going on
        action = "none"
        message = (
            f"job {before.job_id} is already being cancelled ({before.status}: its trainer saves a checkpoint "
            f"first); follow it with: ocrbatch monitor {before.job_id}{common.backend_flags(target)}"
        )
    else:
        backend.cancel(before.job_id, reason)
        if before.is_sweep:
            action = "cancel-sweep"
            message = (f"cancelling sweep {before.job_id}: every child still waiting is withdrawn, every running one "
                       "terminated (its trainer saves a checkpoint first); they end as FAILED")
        elif before.status in CANCELLABLE_STATES:
            action, message = "cancel", f"cancelled job {before.job_id} (it was {before.status})"
        else:
            action = "terminate"
            message = f"terminating job {before.job_id} (it was {before.status}); it ends as FAILED"
    if json_output:
        common.emit_json({"job_id": before.job_id, "previous_status": before.status, "action": action})
    else:
        typer.echo(message)


@acts_on_target(batch=True, job="latest")
def download(
    target: Target,
    job: str,
    output_dir: OutputDirOpt = None,
    best: Annotated[bool, typer.Option("--best", help="A sweep: the model of its most accurate child.")] = False,
    force: ForceOpt = False,
    json_output: JsonOpt = False,
) -> None:
    """Fetch a job's model (default: `latest`, the newest succeeded job) and verify it against its manifest."""
    from ocrbatch.jobs.runs import download_model, resolve_job

    if output_dir is None:
        raise BadInput("--output-dir is required: the folder to write the model to")
    backend = common.open_backend(target)
    flags = common.backend_flags(target)
    # `latest` is the newest job that has a model (--best: the newest sweep, whose winner it takes).
    current = resolve_job(backend, job, succeeded=not best, flags=flags, say=common.info)
    if best != current.is_sweep:
        raise BadInput(
            f"job {current.job_id} is a sweep of {current.array_size}: --best takes its most accurate child's model, "
            f"or name one child ({current.job_id}:INDEX)" if current.is_sweep
            else f"--best picks a sweep's winner; job {current.job_id} is not a sweep"
        )
    if best:
        from ocrbatch.jobs.runs import store_of
        from ocrbatch.jobs.sweep_results import best_child, child_results, open_sweep

        opened = open_sweep(backend, current.job_id)
        current = best_child(opened, child_results(store_of(backend), opened))
        common.info(f"the best child of sweep {opened.job.job_id} is {current.job_id}")
    if current.status == "SUCCEEDED":  # else download_model says why there is nothing to download
        common.info(f"downloading the model of job {current.job_id} ({current.job_name})")
    with ProgressBar() as bar:
        result = download_model(backend, current, output_dir, force=force, progress=bar.stage("downloading"),
                                flags=flags)
    if json_output:
        common.emit_json(result)
        return
    accuracy = f", accuracy {result['accuracy']:.1%}" if result["accuracy"] is not None else ""
    typer.echo(f"model of job {result['job_id']} in {result['output_dir']} ({result['files']} files verified{accuracy})")
    if result.get("report"):
        typer.echo(f"report: {result['report']}")
