"""`pipeline`: upload, submit, monitor, download in one go, on either backend.

Each step is announced through ``step`` (the CLI prints to stderr). The job is kept on the
:class:`Pipeline` as soon as it exists, so an interrupted pipeline can still say how to reattach.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ocrbatch.artifact import refuse_occupied
from ocrbatch.jobs.backend import JobBackend, JobInfo
from ocrbatch.jobs.runs import download_model
from ocrbatch.jobs.dataset_choice import DatasetChoice, resolve_dataset
from ocrbatch.jobs.submission import TrainingOptions, destination, plan_run, submit_run


@dataclass
class Pipeline:
    backend: JobBackend
    follow: Callable[[str], JobInfo]  # e.g. JobMonitor(...).follow
    step: Callable[[str], None]
    progress: Callable[[int, int], None] | None = None  # download: (done bytes, total bytes)
    upload_progress: Callable[[str, int, int], None] | None = None  # (stage, done, total)
    job: JobInfo | None = field(default=None, init=False)
    run_uri: str | None = field(default=None, init=False)

    def run(
        self,
        choice: DatasetChoice,
        options: TrainingOptions,
        output_dir: Path | None,
        *,
        force: bool = False,
    ) -> dict:
        if output_dir is not None and not force:
            refuse_occupied(output_dir)  # now, not after the training
        store = self.backend.store
        self.step(f"[1/4] dataset: {choice.ref or 'the newest version'}")
        dataset = resolve_dataset(
            store, choice, task=options.task, say=lambda line: self.step(f"      {line}"), progress=self.upload_progress
        )
        self.step(f"      dataset version {dataset.uri}")
        if getattr(dataset, "split", None):
            from ocrbatch.datasets.split import HeldOutSplit

            self.step(f"      {HeldOutSplit.from_json(dataset.split).summary()}")

        run = plan_run(store, dataset.uri, options, dataset_task=getattr(dataset, "task", None))
        self.step(f"[2/4] submit: {run.request.job_name}")
        submitted = submit_run(self.backend, run)
        self.job, self.run_uri = submitted.job, run.run_uri
        where = destination(self.backend, submitted.job, run.request)
        self.step(f"      job {submitted.job.job_id} submitted to {where}; run {run.run_uri}")

        self.step(f"[3/4] monitor: job {submitted.job.job_id}")
        self.job = self.follow(submitted.job.job_id)
        result = {
            "backend": self.backend.name,
            "dataset": dataset.uri,
            "job_id": self.job.job_id,
            "job_name": self.job.job_name,
            "run_id": run.run_id,
            "run_uri": run.run_uri,
            "status": self.job.status,
            "status_reason": self.job.status_reason,
            "model_dir": None,
            "accuracy": None,
            "report": None,
        }
        if self.job.status != "SUCCEEDED":
            self.step(f"[4/4] download: skipped, the job {self.job.status}")
            return result
        dest = Path(output_dir) if output_dir else Path("models") / run.run_id
        self.step(f"[4/4] download: {dest}")
        downloaded = download_model(self.backend, self.job, dest, force=force, progress=self.progress)
        result.update(model_dir=downloaded["output_dir"], accuracy=downloaded["accuracy"],
                      report=downloaded.get("report"))
        return result
