"""Sweeps: ``ocrbatch sweep`` (many runs as one job) and ``ocrbatch sweep results SWEEP`` (the ranking).

A thin shell over ``ocrbatch.jobs.sweeps``. ``monitor``, ``list``, ``cancel``, ``download --best`` and
``logs SWEEP:INDEX`` take a sweep's job id too; their sweep views are here (:func:`monitor_sweep`,
:func:`sweep_rows`).
"""

import json
import random
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, List, Optional

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import JsonOpt, acts_on_target, trains
from ocrbatch.errors import BadInput, WaitTimedOut
from ocrbatch.wiring import Target

if TYPE_CHECKING:
    from ocrbatch.jobs.backend import JobBackend, JobInfo
    from ocrbatch.jobs.dataset_choice import DatasetChoice
    from ocrbatch.jobs.submission import TrainingOptions

sweep_app = typer.Typer(
    help="Many training runs of one dataset as ONE job (a Batch array job, or local children); "
    "`ocrbatch sweep results SWEEP` ranks them.",
    no_args_is_help=False,
)

GridOpt = Annotated[
    Optional[List[str]],
    typer.Option(
        "--grid",
        metavar="KEY=V1,V2,...",
        help="Values to sweep (repeatable; children: every combination). KEY: epochs, learning-rate, batch-size, "
        "model, engine, task, from-scratch, or any --set key.",
    ),
]
RandomOpt = Annotated[
    Optional[int],
    typer.Option("--random", metavar="N", help="N children drawn at random: --range bounds, --grid values."),
]
RangeOpt = Annotated[
    Optional[List[str]],
    typer.Option("--range", metavar="KEY=LOW:HIGH[:log]", help="Bounds --random draws from (repeatable)."),
]
SeedOpt = Annotated[Optional[int], typer.Option("--seed", help="Seed of --random (default: chosen and recorded).")]
SlotsOpt = Annotated[
    Optional[int],
    typer.Option("--slots", min=1, help="Local mode: children that train at once (default 1)."),
]


def register(app: typer.Typer) -> None:
    sweep_app.callback(invoke_without_command=True)(common.one_line_errors(sweep))
    sweep_app.command("results")(common.one_line_errors(results))
    app.add_typer(sweep_app, name="sweep")


@acts_on_target(batch=True)
@trains()
def sweep(
    ctx: typer.Context,
    target: Target,
    training: "TrainingOptions",
    dataset: "DatasetChoice",
    grid: GridOpt = None,
    random_count: RandomOpt = None,
    ranges: RangeOpt = None,
    seed: SeedOpt = None,
    slots: SlotsOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the children and the job; submit nothing.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Submit a sweep: every child is a full run (own checkpoints, Spot resume, model) of one array job."""
    if ctx.invoked_subcommand:
        return
    from ocrbatch.cli.submit import chosen_dataset, describe_estimate, price_plan
    from ocrbatch.jobs import sweeps

    grid_values = sweeps.parse_grid(grid or [])
    bounds = sweeps.parse_ranges(ranges or [])
    if random_count is not None and seed is None:
        seed = random.SystemRandom().randrange(2**31)
    settings = sweeps.child_settings(grid_values, bounds, random_count=random_count, seed=seed)
    if slots is not None and not target.local:
        raise BadInput("--slots is for local mode; on AWS, as many children run at once as the queue's compute allows")
    backend = common.open_backend(target)
    dataset_uri, dataset_task = chosen_dataset(backend, training, dataset, dry_run=dry_run)
    plan = sweeps.plan_sweep(
        backend.store, dataset_uri, training, settings, dataset_task=dataset_task,
        method="grid" if random_count is None else "random", seed=seed if random_count is not None else None,
    )
    request = sweeps.sweep_request(plan, slots=slots or 1)
    if dry_run:
        document = {
            "backend": backend.name,
            "dry_run": True,
            "sweep_id": plan.sweep_id,
            "job_name": plan.job_name,
            "size": plan.size,
            "method": plan.method,
            "seed": plan.seed,
            "dataset": dataset_uri,
            "manifest": plan.manifest_uri,
            "children": [{"index": c.index, "settings": c.settings, "run_uri": c.spec.output} for c in plan.children],
            "environment": plan.base.to_env(),
        }
        kwargs_of = getattr(backend, "submit_job_kwargs", None)
        if kwargs_of:
            document["submit_job"] = kwargs_of(request)
        from ocrbatch.jobs.submission import job_request

        children = [job_request(plan.job_name, c.spec, sweeps.options_for(plan.options, c.settings)) for c in plan.children]
        document["estimate"] = price_plan(target, backend, request, children)
        if json_output:
            common.emit_json(document)
            return
        common.info(f"would submit a sweep of {plan.size} children on the {backend.name} backend (dry run, nothing submitted):")
        for child in plan.children:
            typer.echo(f"  child {child.index}: {sweeps.describe_settings(child.settings)}")
        typer.echo(json.dumps(document.get("submit_job") or document["environment"], indent=2, sort_keys=True))
        for line in describe_estimate(document["estimate"]):
            typer.echo(line)
        return

    from ocrbatch.jobs.submission import SubmitUnanswered, destination

    try:
        job = sweeps.submit_sweep(backend, plan, slots=slots or 1)
    except SubmitUnanswered as unanswered:
        raise unanswered.listed_with(f"ocrbatch list{common.backend_flags(target)}") from None
    if json_output:
        common.emit_json({
            "job_id": job.job_id, "job_name": job.job_name, "sweep_id": plan.sweep_id, "size": plan.size,
            "method": plan.method, "seed": plan.seed, "manifest": plan.manifest_uri, "dataset": dataset_uri,
            "queue": request.queue, "job_queue": job.queue, "backend": backend.name,
        })
        return
    how = "one array job" if plan.size > 1 else "one job"
    drawn = f" (random, seed {plan.seed})" if plan.method == "random" else ""
    common.info(f"submitted sweep {plan.job_name}: {plan.size} children{drawn} as {how} to "
                f"{destination(backend, job, request)}; manifest {plan.manifest_uri}")
    flags = common.backend_flags(target)
    common.info(f"follow it: ocrbatch monitor {job.job_id}{flags}")
    common.info(f"rank it:   ocrbatch sweep results {job.job_id}{flags}")
    typer.echo(job.job_id)


@acts_on_target(batch=True, job="required")
def results(
    target: Target,
    job: str,
    json_output: JsonOpt = False,
) -> None:
    """Rank a sweep's children by held-out accuracy, with their settings (best first)."""
    from ocrbatch.jobs import sweep_results, sweeps
    from ocrbatch.jobs.runs import store_of

    backend = common.open_backend(target)
    opened = sweep_results.open_sweep(backend, job, say=common.info)
    rows = sweep_results.child_results(store_of(backend), opened)
    if json_output:
        common.emit_json({**sweep_results.summary(opened, rows), "children": rows})
        return
    table = [("RANK", "CHILD", "STATUS", "ACCURACY", "SETTINGS")]
    for row in rows:
        table.append((
            row["rank"] or "-",
            row["job_id"],
            row["status"],
            _accuracy(row),
            sweeps.describe_settings(row["settings"]),
        ))
    common.print_table(table, last_unpadded=True)
    failed = [row for row in rows if row["status"] == "FAILED"]
    if failed:
        common.info(f"{len(failed)} children failed; why: ocrbatch monitor {opened.job.job_id}{common.backend_flags(target)}")


def _accuracy(row: dict) -> str:
    if row["accuracy"] is None:
        return "-"
    return f"{row['accuracy']:.1%}" + (" (so far)" if row["accuracy_from"] == "progress" else "")


# --- a sweep in the other commands ----------------------------------------------------------------


def summary_lines(data: dict) -> list[str]:
    from ocrbatch.jobs.sweeps import describe_settings

    counts = ", ".join(f"{n} {state}" for state, n in data["counts"].items())
    lines = [f"{data['job_id']}  {data['job_name']}  sweep of {data['size']}  {data['status']}: {counts}"]
    best = data.get("best")
    if best:
        so_far = " so far" if best["accuracy_from"] == "progress" or not data["done"] else ""
        lines.append(f"best{so_far}: child {best['index']} ({best['job_id']}) {best['accuracy']:.1%}  "
                     f"{describe_settings(best['settings'])}")
    for row in data["failed"]:
        lines.append(f"failed: child {row['index']} ({row['job_id']}): {row['status_reason'] or 'no reason given'}")
    cost = data.get("cost")
    if cost:
        lines.append(_cost_line(cost))
    return lines


def _cost_line(cost: dict) -> str:
    if cost.get("note"):
        return f"cost: none ({cost['note']})"
    so_far = "" if cost["final"] else " so far"
    dollars = "unknown" if cost["cost_usd"] is None else f"${cost['cost_usd']:.2f}"
    unpriced = f", {cost['unpriced_runs']} of them not priced" if cost["unpriced_runs"] and cost["cost_usd"] is not None else ""
    return f"cost{so_far}: {dollars} for {cost['gpu_hours']:.2f} GPU-hours over {cost['runs']} runs{unpriced}"


def monitor_sweep(
    backend: "JobBackend", job: "JobInfo", target: Target, *, once: bool, timeout_s: float | None, json_output: bool,
    asked_s: float | None = None,
) -> None:
    """Follow a sweep until every child has ended: a line whenever the counts change, then the summary
    (exit 0 all succeeded, 1 any failed, 124 after ``timeout_s``, what is left of the user's ``asked_s``;
    Ctrl-C detaches)."""
    from ocrbatch.jobs.runs import store_of
    from ocrbatch.jobs.sweep_results import child_results, open_sweep, summary, sweep_cost

    store = store_of(backend)
    started = common.clock()
    wait, last = 5.0, None
    opened = open_sweep(backend, job.job_id)  # the manifest is read once: it does not change
    try:
        while True:
            if last is not None:
                opened = replace(opened, job=backend.describe(job.job_id), children=tuple(backend.children(job.job_id)))
            rows = child_results(store, opened)
            data = summary(opened, rows)
            if once or data["done"]:
                break
            counts = ", ".join(f"{n} {state}" for state, n in data["counts"].items())
            if counts != last:
                best = data["best"]
                common.info(f"{counts}" + (f"; best so far {best['accuracy']:.1%} (child {best['index']})" if best else ""))
                last, wait = counts, 5.0
            else:
                wait = min(wait * 1.5, 60.0)
            if timeout_s is not None and common.clock() - started + wait > timeout_s:
                common.detach_hint(job.job_id, target, headline=str(WaitTimedOut(job.job_id, data["status"], asked_s or timeout_s)))
                _print_summary(data, rows, json_output, cost=sweep_cost(backend, opened, now=time.time()))
                raise typer.Exit(WaitTimedOut.exit_code)
            common.sleep(wait)
    except KeyboardInterrupt:
        common.detach_hint(job.job_id, target)
        raise typer.Exit(130)
    _print_summary(data, rows, json_output, cost=sweep_cost(backend, opened, now=time.time()))
    if data["counts"].get("FAILED"):
        raise typer.Exit(1)


def _print_summary(data: dict, rows: list[dict], json_output: bool, *, cost: dict | None = None) -> None:
    data = {**data, "cost": cost}
    if json_output:
        common.emit_json({**data, "children": sorted(rows, key=lambda row: row["index"] or 0)})
    else:
        for line in summary_lines(data):
            typer.echo(line)


def sweep_rows(backend: "JobBackend", job: "JobInfo") -> tuple[dict, list[dict]]:
    """A sweep's row fields for `list` (its counts and best accuracy) and its children's rows."""
    from ocrbatch.jobs.runs import store_of
    from ocrbatch.jobs.sweep_results import child_results, open_sweep, summary

    opened = open_sweep(backend, job.job_id)
    rows = child_results(store_of(backend), opened)
    data = summary(opened, rows)
    return data, sorted(rows, key=lambda row: row["index"] or 0)
