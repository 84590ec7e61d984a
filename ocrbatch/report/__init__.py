"""A run's page: one self-contained ``report.html`` (charts and images inside it, no script, no
network) showing the training curves across attempts, the held-out result by group, the worst
mistakes, the data and the run's facts.

The trainer writes it into the model it publishes (so ``download`` brings it and the manifest lists
it); ``ocrbatch report`` builds it again on demand, for a job (adding what the job backend knows:
its attempts as Batch saw them) or for a model folder.

    model.py   what the page is drawn from (:class:`RunRecord`) and the facts worked out from it
    page.py    the HTML
    charts.py  the matplotlib charts (the ``train`` extra; without it, a one-line error)
"""

from __future__ import annotations

from pathlib import Path

from ocrbatch.layout import REPORT_NAME
from ocrbatch.report.model import RunRecord, read_folder, read_run

__all__ = ["REPORT_NAME", "RunRecord", "read_folder", "read_run", "render", "write_page", "write_report"]


def render(record: RunRecord) -> str:
    """The page of ``record`` as HTML (imports matplotlib: MissingPlotting without it)."""
    from ocrbatch.report.page import render as render_page

    return render_page(record)


def write_page(record: RunRecord, output: Path) -> Path:
    """Render ``record`` into the file ``output``, which appears whole or not at all."""
    text = render(record)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.partial")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(output)
    return output


def write_report(folder: Path, *, output: Path | None = None, title: str | None = None,
                 model_name: str | None = None) -> Path:
    """Build the page of the model in ``folder`` into ``output`` (default: ``folder/report.html``);
    ``model_name`` for a folder whose manifest is not written yet (the trainer's, before it publishes)."""
    record = read_folder(folder, title=title)
    if model_name:
        record.manifest.setdefault("model_name", model_name)
    return write_page(record, Path(output) if output else Path(folder) / REPORT_NAME)
