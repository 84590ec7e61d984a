"""Spot reclaim drills (the quick version of ``bench/spot_drills.py``): the trainer killed mid-run,
by SIGTERM then SIGKILL and by SIGKILL alone, resumes on the next attempt and loses at most one
checkpoint interval."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

from .conftest import FIGURES

pytest.importorskip("paddle")
pytest.importorskip("cv2")

BENCH = Path(__file__).resolve().parents[2] / "bench" / "spot_drills.py"
CHECKPOINT_EVERY = 2.0


def load_drills():
    spec = importlib.util.spec_from_file_location("spot_drills", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_killed_runs_resume_and_lose_at_most_one_interval(tmp_path, monkeypatch):
    monkeypatch.setenv("OCRBATCH_PROGRESS_INTERVAL", "0.1")
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    drills = load_drills()
    dataset_uri = drills.prepare(tmp_path / "home")
    rng = random.Random(3)
    results = [
        drills.run_drill(tmp_path / "home", dataset_uri, run, mode, rng, epochs=20,
                         checkpoint_every=CHECKPOINT_EVERY, check_model=(run == 1))
        for run, mode in enumerate(("SIGTERM+SIGKILL", "SIGKILL"))
    ]
    for result in results:
        assert result.status == "SUCCEEDED" and result.attempts == 2, result
        assert result.resumed_from is not None, result
        assert result.lost_seconds <= CHECKPOINT_EVERY + 1, result
    assert results[1].model_reads
    FIGURES["spot drills"] = {
        f"{r.mode} lost": f"{r.lost_steps} steps/{r.lost_seconds} s" for r in results
    }
