"""Where things live in the bucket (or the local store): the one place that names keys.

    datasets/<name>/versions/<version_id>/manifest.json   a dataset version (written last)
    datasets/<name>/shards/<sha256>.tar                   content-addressed shards of image bytes
    datasets/<name>/chunks/<sha256>.gz                    content-addressed pieces of file indexes
                                                          and label files (shared by versions)
    runs/<run_id>/                                        everything one training run writes:
        run.json                                          what was submitted (engine, dataset, overrides)
        progress.json                                     live progress, rewritten by the trainer
        history.json                                      loss and evaluations over every attempt
        cost.json                                         GPU-hours and dollars, once the job ended
        checkpoints/                                      Spot-safe checkpoints, synced as written
        model/                                            the published artifact (manifest.json last),
                                                          with report.html, the run's page
    runs/<sweep_id>/sweep.json                            a sweep: every child's settings (children's
    runs/<sweep_id>-<index>/                              runs sit beside it, one full run each)

The job role may read ``datasets/`` and write ``runs/``; the IAM policy in ``stacks`` is built from
these same prefixes, so the two cannot drift apart.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

DATASETS_PREFIX = "datasets/"
RUNS_PREFIX = "runs/"

MANIFEST_NAME = "manifest.json"
METRICS_NAME = "metrics.json"  # in a model folder: accuracy and the other held-out figures
DATASET_RECORD_NAME = "dataset.json"  # in a model folder: the dataset version and spec it was trained on
PROGRESS_NAME = "progress.json"
HISTORY_NAME = "history.json"  # beside progress.json, and its final copy in a model folder
EVALUATION_NAME = "evaluation.json"  # in a model folder: the held-out findings (by group, worst mistakes)
REPORT_NAME = "report.html"  # in a model folder: the run's self-contained page
COST_NAME = "cost.json"
RUN_SPEC_NAME = "run.json"
SWEEP_MANIFEST_NAME = "sweep.json"
CHECKPOINTS_DIR = "checkpoints/"
MODEL_DIR = "model/"
VERSIONS_DIR = "versions/"
SHARDS_DIR = "shards/"
CHUNKS_DIR = "chunks/"


@dataclass(frozen=True)
class RunLayout:
    """Keys of one training run, relative to the store root: ``runs/<run_id>/``, or wherever a
    trainer was told to write (:meth:`at`)."""

    run_id: str
    root: str | None = None  # the run's folder, when it is not runs/<run_id>/

    @classmethod
    def at(cls, prefix: str) -> "RunLayout":
        """The run whose folder is ``prefix`` (the key of the trainer's output URI)."""
        root = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
        return cls(run_id=posixpath.basename(root.rstrip("/")), root=root)

    @property
    def prefix(self) -> str:
        return self.root if self.root is not None else f"{RUNS_PREFIX}{self.run_id}/"

    @property
    def run_spec(self) -> str:
        return self.prefix + RUN_SPEC_NAME

    @property
    def progress(self) -> str:
        return self.prefix + PROGRESS_NAME

    @property
    def history(self) -> str:
        return self.prefix + HISTORY_NAME

    @property
    def cost(self) -> str:
        return self.prefix + COST_NAME

    @property
    def checkpoints(self) -> str:
        return self.prefix + CHECKPOINTS_DIR

    @property
    def model(self) -> str:
        return self.prefix + MODEL_DIR

    @property
    def model_manifest(self) -> str:
        return self.model + MANIFEST_NAME

    @property
    def model_metrics(self) -> str:
        return self.model + METRICS_NAME

    @property
    def model_report(self) -> str:
        return self.model + REPORT_NAME


@dataclass(frozen=True)
class SweepLayout:
    """Keys of one sweep: its manifest in ``runs/<sweep_id>/`` and its children's runs beside it."""

    sweep_id: str

    @property
    def prefix(self) -> str:
        return f"{RUNS_PREFIX}{self.sweep_id}/"

    @property
    def manifest(self) -> str:
        return self.prefix + SWEEP_MANIFEST_NAME

    def child(self, index: int) -> RunLayout:
        return RunLayout(child_run_id(self.sweep_id, index))


def child_run_id(sweep_id: str, index: int) -> str:
    return f"{sweep_id}-{index}"


def child_location(sweep_location: str, index: int) -> str:
    """A sweep child's run folder from the sweep's, as a key or a URI: ``.../runs/<sweep_id>/`` ->
    ``.../runs/<sweep_id>-<index>/``. Batch gives every child the same environment, so a child's
    folder is derived from its index rather than carried."""
    return f"{sweep_location.rstrip('/')}-{index}/"


def dataset_prefix(name: str) -> str:
    return f"{DATASETS_PREFIX}{name}/"


@dataclass(frozen=True)
class DatasetLayout:
    """Keys of one dataset (all its versions), relative to the store root."""

    name: str

    @property
    def prefix(self) -> str:
        return dataset_prefix(self.name)

    @property
    def versions(self) -> str:
        return self.prefix + VERSIONS_DIR

    @property
    def shards(self) -> str:
        return self.prefix + SHARDS_DIR

    @property
    def chunks(self) -> str:
        return self.prefix + CHUNKS_DIR

    def version(self, version_id: str) -> str:
        return f"{self.versions}{version_id}"

    def manifest(self, version_id: str) -> str:
        return f"{self.version(version_id)}/{MANIFEST_NAME}"

    def shard(self, sha256: str) -> str:
        return f"{self.shards}{sha256}.tar"

    def chunk(self, sha256: str) -> str:
        return f"{self.chunks}{sha256}.gz"


def parse_dataset_version(key_or_uri: str) -> tuple[str, str] | None:
    """``(name, version_id)`` from a key or URI ending in ``datasets/<name>/versions/<id>`` (with or
    without a trailing ``/manifest.json``); None for anything else."""
    parts = key_or_uri.rstrip("/").split("/")
    if parts and parts[-1] == MANIFEST_NAME:
        parts = parts[:-1]
    if len(parts) >= 4 and parts[-4] + "/" == DATASETS_PREFIX and parts[-2] + "/" == VERSIONS_DIR and parts[-1]:
        return parts[-3], parts[-1]
    return None

