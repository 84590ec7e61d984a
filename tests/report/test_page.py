"""The page drawn from a model's files: every section from real data, self-contained, and honest
about what it does not have."""

import base64
import re
import subprocess
import sys

from ocrbatch.report import read_folder, render, write_report
from ocrbatch.report.model import attempt_rows, curves_of, gpu_hours


def test_the_page_holds_every_section_and_nothing_from_outside(model_folder, tmp_path):
    page = write_report(model_folder, output=tmp_path / "report.html", title="run-1")
    text = page.read_text()
    for heading in ("Result", "Training", "Held-out result by group", "Error gallery", "Data", "The run"):
        assert f"<h2>{heading}</h2>" in text
    assert "<script" not in text
    sources = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert sources and all(s.startswith("data:image/") for s in sources)
    charts = [s for s in sources if s.startswith("data:image/svg+xml")]
    assert len(charts) == 2 + 2 + 2  # curves by step and by time, two group charts, two histograms
    svg = base64.b64decode(charts[0].split(",", 1)[1]).decode()
    assert "<svg" in svg and "training loss" in svg and "attempt 2 resumes" in svg


def test_the_page_tells_the_reclaim_the_best_checkpoint_and_the_gpu_hours(model_folder):
    text = render(read_folder(model_folder, title="run-1"))
    assert "Attempt 2 resumes (attempt 1: killed without notice) at step 100." in text
    assert "Best checkpoint (the model published): step 240" in text
    assert "5m 00s without training" in text
    assert "dropout=0, max_train_seconds=600" in text
    assert "cost usd" in text and "0.12" in text
    assert "<td>training image</td><td>1234.dkr.ecr.us-west-2.amazonaws.com/cdk-assets:abc</td>" in text
    assert "<td>Tesla T4</td>" in text
    record = read_folder(model_folder)
    rows = attempt_rows(record)
    assert [(r["attempt"], r["ended"], r["gpu"]) for r in rows] == [(1, "training", True), (2, "succeeded", True)]
    assert gpu_hours(rows) == round(420 / 3600, 3)  # the reclaimed attempt's end is unknown: not counted


def test_a_job_record_names_the_reclaim_as_batch_saw_it(model_folder):
    record = read_folder(model_folder)
    record.job = {"job_id": "j-1", "job_name": "demo", "status": "SUCCEEDED", "queue": "gpu-queue",
                  "attempts": [{"started_at": 100.0, "stopped_at": 1900.0, "ended": "reclaimed",
                                "reason": "Host EC2 (instance i-1) terminated."},
                               {"started_at": 2200.0, "stopped_at": 4000.0, "ended": "succeeded", "reason": None}]}
    assert gpu_hours(attempt_rows(record)) == 1.0
    text = render(record)
    assert "attempt 1: reclaimed" in text and "Host EC2 (instance i-1) terminated." in text


def test_curves_mark_where_each_attempt_resumed(model_folder):
    curves = curves_of(read_folder(model_folder).history)
    assert curves.attempt_numbers == [1, 2]
    assert [m["step"] for m in curves.marks] == [100]
    assert curves.best["step"] == 240 and curves.gaps[0]["to"] - curves.gaps[0]["from"] == 300


def test_a_model_without_history_or_findings_still_gets_a_page(tmp_path):
    (tmp_path / "metrics.json").write_text('{"accuracy": 0.5}')
    text = render(read_folder(tmp_path))
    assert "50.0%" in text and "carries no training history" in text
    assert "Error gallery" not in text


def test_without_matplotlib_the_page_says_in_one_line_how_to_install_it(model_folder):
    script = ("import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.figure'] = None\n"
              "from ocrbatch.report import render, read_folder\n"
              f"render(read_folder({str(model_folder)!r}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode != 0
    assert "MissingPlotting: the report's charts need matplotlib" in done.stderr
    assert "pip install 'ocrbatch[train]'" in done.stderr


def test_a_detection_runs_page_shows_hmean_and_frames_with_boxes(tmp_path):
    import json

    from PIL import Image

    from ocrbatch.trainer.findings import frame_uri
    from ocrbatch.trainer.history import RunHistory

    Image.new("RGB", (320, 160), (30, 30, 30)).save(tmp_path / "frame.jpg")
    box = [[10, 10], [200, 10], [200, 60], [10, 60]]
    frame = {"path": "frame.jpg", "image": frame_uri(tmp_path / "frame.jpg", [box], [box]), "labelled": 1,
             "predicted": 1}
    model = tmp_path / "model"
    model.mkdir()
    (model / "evaluation.json").write_text(json.dumps({"task": "det", "frames": [frame]}))
    (model / "metrics.json").write_text(json.dumps({"accuracy": 0.5, "hmean": 0.5, "precision": 0.6, "recall": 0.43}))
    (model / "dataset.json").write_text(json.dumps({"spec": {"engine": "paddleocr", "task": "det"}}))
    history = RunHistory()
    history.start()
    history.step(10, 2.0)
    history.evaluation(10, {"accuracy": 0.5, "hmean": 0.5, "precision": 0.6, "recall": 0.43})
    history.end("succeeded")
    (model / "history.json").write_text(json.dumps(history.to_json()))
    text = render(read_folder(model))
    assert "<b>50.0%</b><span>hmean (held-out)</span>" in text and "60.0%" in text and "43.0%" in text
    assert "Held-out frames: labelled and predicted boxes" in text and frame["image"] in text
    assert "50.0% hmean during training" in text and "exact match" not in text


def test_the_cost_is_said_as_monitor_works_it_out():
    from ocrbatch.report.page import describe_cost

    priced = {"gpu_hours": 1.0, "cost_usd": 0.2612, "final": True, "note": None,
              "attempts": [{"attempt": 1, "priced_by": "Spot price history over the attempt"}]}
    assert describe_cost(priced) == "$0.26 (Spot price history over the attempt)"
    unknown = {"gpu_hours": 0.5, "cost_usd": None, "final": False, "note": None,
               "attempts": [{"attempt": 1, "priced_by": "no on-demand price for p9.huge"}]}
    assert describe_cost(unknown) == "unknown so far (no on-demand price for p9.huge)"
