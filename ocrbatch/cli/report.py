"""``report``: a run's page (training curves, result by group, worst mistakes, data, attempts), built
from a job's run in the store or from a downloaded model folder, into one self-contained HTML file."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import JsonOpt, acts_on_target
from ocrbatch.errors import BadInput
from ocrbatch.wiring import Target


def register(app: typer.Typer) -> None:
    app.command("report")(report)


OutputOpt = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Where to write the page (default: <home>/reports/<run>.html)."),
]
OpenOpt = Annotated[bool, typer.Option("--open", help="Open the page in the default browser.")]


@acts_on_target(job="latest")
def report(target: Target, job: str, output: OutputOpt = None, open_page: OpenOpt = False,
           json_output: JsonOpt = False) -> None:
    """Build a run's page: JOB (default: the newest job; a running job shows its history so far) or a
    downloaded MODEL_DIR. Prints the page's path."""
    from ocrbatch.jobs.run_report import build_folder_report, build_job_report

    wiring = common.wire(target)
    reports = wiring.reports_dir
    folder = Path(job)
    if folder.is_dir():
        result = build_folder_report(folder, output or reports / f"{folder.resolve().name}.html")
    else:
        from ocrbatch.jobs.runs import resolve_job, run_layout

        backend = wiring.backend
        current = resolve_job(backend, job, say=common.info)
        if current.is_sweep:  # the parent trains nothing itself
            raise BadInput(f"job {current.job_id} is a sweep of {current.array_size}: each child has its own page, "
                           f"e.g. ocrbatch report {current.job_id}:0{common.backend_flags(target)} "
                           f"(the best: ocrbatch sweep results {current.job_id}{common.backend_flags(target)})")
        result = build_job_report(backend, current, output or reports / f"{run_layout(current).run_id}.html")
    if open_page:
        _open(Path(result["report"]))
    if json_output:
        common.emit_json(result)
        return
    if not result["published"]:
        common.info("no model published yet: the page shows the training so far")
    typer.echo(result["report"])


def _open(page: Path) -> None:
    import webbrowser  # only when asked: every command imports this module

    if not webbrowser.open(page.as_uri()):
        common.info(f"no browser to open it with here; open {page} on a machine with one")
