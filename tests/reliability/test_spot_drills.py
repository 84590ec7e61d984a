"""Spot reclaim drills (the quick version of ``bench/spot_drills.py``), builtin engine: a trainer stopped
on the notice (SIGTERM, SIGKILL two minutes later) loses no step; one killed without notice (SIGKILL)
loses at most one checkpoint interval. Both resume on the next attempt and record what it cost."""

from __future__ import annotations

import random

import pytest

from tests.bench_scripts import load_bench_script

from .conftest import FIGURES

pytest.importorskip("paddle")
pytest.importorskip("cv2")

CHECKPOINT_EVERY = 2.0


@pytest.mark.slow
def test_builtin_engine_loses_nothing_on_notice_and_at_most_one_interval_without(tmp_path, monkeypatch):
    monkeypatch.setenv("OCRBATCH_PROGRESS_INTERVAL", "0.1")
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    drills = load_bench_script("spot_drills")
    engine = drills.ENGINES["builtin"]
    engine = drills.DrillEngine(**{**engine.__dict__, "epochs": 20})
    dataset_uri = engine.prepare(tmp_path / "home")
    rng = random.Random(3)
    results = [
        drills.run_drill(tmp_path / "home", engine, dataset_uri, run, mode, rng,
                         checkpoint_every=CHECKPOINT_EVERY, check_model=(run == 1))
        for run, mode in enumerate(drills.MODES)
    ]
    notice, no_notice = results
    for result in results:
        assert result.status == "SUCCEEDED" and result.attempts == 2, result
        assert result.resumed_from is not None, result
        assert result.trainer_reported is not None and result.trainer_reported["attempt"] == 1, result
    assert notice.lost_steps == 0, notice
    assert notice.trainer_reported["notice"] and notice.trainer_reported["lost_steps"] == 0, notice
    assert notice.signal_to_exit_s is not None and notice.signal_to_exit_s < 120, notice
    assert no_notice.lost_seconds <= CHECKPOINT_EVERY + 1, no_notice
    assert not no_notice.trainer_reported["notice"], no_notice
    assert no_notice.model_reads
    FIGURES["spot drills"] = {
        f"{r.mode} lost": f"{r.lost_steps} steps/{r.lost_seconds} s (trainer: {r.trainer_reported['lost_seconds']} s)"
        for r in results
    }
