"""``init_from`` at submit time: a folder is checked and made absolute for a local job, and refused
for a job on AWS, whose container holds only the shipped bases (no paddle needed for either)."""

from __future__ import annotations

import pytest

from ocrbatch.errors import BadInput
from ocrbatch.trainer.engines import spec_for_job
from ocrbatch.trainer.engines.builtin.bases import META_NAME, WEIGHTS_NAME
from ocrbatch.trainer.spec import TrainingSpec


def _spec(output: str, init_from: str, **fields) -> TrainingSpec:
    return TrainingSpec(dataset="file:///d", output=output, overrides={"init_from": init_from, "epochs": "2"}, **fields)


def _model_folder(path):
    path.mkdir()
    (path / WEIGHTS_NAME).write_bytes(b"weights")
    (path / META_NAME).write_text("{}")
    return path


def test_a_local_job_carries_the_folder_as_an_absolute_path(tmp_path, monkeypatch):
    _model_folder(tmp_path / "pinball-model")
    monkeypatch.chdir(tmp_path)
    spec = spec_for_job(_spec("file:///home/runs/r", "./pinball-model"))
    assert spec.overrides == {"init_from": str(tmp_path / "pinball-model"), "epochs": "2"}


def test_a_shipped_base_is_carried_by_name_anywhere():
    for output in ("file:///home/runs/r", "s3://bucket/runs/r"):
        assert spec_for_job(_spec(output, "pinball-scores")).overrides["init_from"] == "pinball-scores"


def test_a_folder_is_refused_for_a_job_on_aws_before_it_is_sent(tmp_path):
    folder = _model_folder(tmp_path / "pinball-model")
    with pytest.raises(BadInput, match="a job on AWS can start only from a shipped base .pinball-scores."):
        spec_for_job(_spec("s3://bucket/runs/r", str(folder)))


def test_a_missing_folder_is_refused_for_a_local_job(tmp_path):
    with pytest.raises(BadInput, match="neither a shipped base"):
        spec_for_job(_spec("file:///home/runs/r", str(tmp_path / "nothing")))


def test_other_engines_and_tasks_are_left_as_they_are(tmp_path):
    spec = _spec("s3://bucket/runs/r", str(tmp_path), engine="builtin", task="det")
    assert spec_for_job(spec) is spec
