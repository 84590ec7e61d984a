"""Where things live in the bucket (or the local store): the one place that names keys.

    datasets/<name>/versions/<version_id>/manifest.json   a dataset version (written last)
    datasets/<name>/shards/<sha256>.tar                   content-addressed shards it points to
    runs/<run_id>/                                        everything one training run writes:
        run.json                                          what was submitted (engine, dataset, overrides)
        progress.json                                     live progress, rewritten by the trainer
        checkpoints/                                      Spot-safe checkpoints, synced as written
        model/                                            the published artifact (manifest.json last)

The job role may read ``datasets/`` and write ``runs/``; the IAM policy in ``stacks`` is built from
these same prefixes, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

DATASETS_PREFIX = "datasets/"
RUNS_PREFIX = "runs/"

MANIFEST_NAME = "manifest.json"
PROGRESS_NAME = "progress.json"
RUN_SPEC_NAME = "run.json"
CHECKPOINTS_DIR = "checkpoints/"
MODEL_DIR = "model/"


@dataclass(frozen=True)
class RunLayout:
    """Keys of one training run, relative to the store root."""

    run_id: str

    @property
    def prefix(self) -> str:
        return f"{RUNS_PREFIX}{self.run_id}/"

    @property
    def run_spec(self) -> str:
        return self.prefix + RUN_SPEC_NAME

    @property
    def progress(self) -> str:
        return self.prefix + PROGRESS_NAME

    @property
    def checkpoints(self) -> str:
        return self.prefix + CHECKPOINTS_DIR

    @property
    def model(self) -> str:
        return self.prefix + MODEL_DIR

    @property
    def model_manifest(self) -> str:
        return self.model + MANIFEST_NAME


def dataset_prefix(name: str) -> str:
    return f"{DATASETS_PREFIX}{name}/"
