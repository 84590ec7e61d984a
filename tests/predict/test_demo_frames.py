"""`ocrbatch demo --frames`: after the reader, the loop on whole frames runs end to end (a detector
trained as a local job, held-out frames read and drawn, a folder pre-labelled); without --frames the
demo prints the commands that do it. Tiny budgets: the test checks the loop, not its accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import run_local

pytestmark = pytest.mark.slow


def test_demo_frames_runs_the_whole_loop(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    report = json.loads(run_local(tmp_path / "home", "demo", "--count", "200", "--train-seconds", "10", "--frames",
                                  "--det-seconds", "10", "--output-dir", str(tmp_path / "reader"), "--json").stdout)
    # The reader starts from the shipped base, so even 10 s of training reads most scores (from scratch: 0 %).
    assert report["init_from"] == "pinball-scores" and report["accuracy"] >= 0.5
    loop = report["frames"]
    assert Path(loop["det_model_dir"], "inference.yml").is_file()
    assert 0 <= loop["det_hmean"] <= 1
    assert len(loop["frames"]) == len(loop["drawn"]) == 4
    assert all(Path(path).is_file() for path in loop["drawn"])
    photos = Path(loop["labelled"]["folder"])
    assert (photos / "Label.txt").is_file() and (photos / "fileState.txt").read_text() == ""
    assert loop["python"][0] == "from paddleocr import PaddleOCR"
