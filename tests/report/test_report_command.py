"""`ocrbatch report` and the pointers to the page: a job's page from its run in the store (with the
attempts as the backend saw them), a running job's history so far, a downloaded model's page, and
the one-line answers when there is nothing to draw or no matplotlib."""

import json
import subprocess
import sys

import pytest

from ocrbatch.errors import NotFound
from ocrbatch.jobs.backend import Attempt, JobInfo
from ocrbatch.jobs.job_report import describe_snapshot, snapshot
from ocrbatch.storage import LocalStore
from ocrbatch.wiring import Wiring
from tests.cli_runner import run


class OneJobBackend:
    name = "local"

    def __init__(self, store, job):
        self.store, self.job = store, job

    def describe(self, job_id):
        if job_id != self.job.job_id:
            raise NotFound(f"no job {job_id}")
        return self.job

    def list_jobs(self, limit=50):
        return [self.job]


def job_of(store, status, attempts=()):
    return JobInfo("local-1", "pinball", status, created_at=1.0, queue="gpu", output=store.uri("runs/r1/"),
                   attempts=tuple(attempts))


@pytest.fixture
def published(model_folder, tmp_path, monkeypatch):
    """A finished run in a store (its model and its live history), and the backend that knows its job."""
    store = LocalStore(tmp_path / "store")
    for path in model_folder.iterdir():
        store.put_bytes(f"runs/r1/model/{path.name}", path.read_bytes())
    store.put_bytes("runs/r1/history.json", (model_folder / "history.json").read_bytes())
    hosts = {"1": {"instance_type": "g4dn.xlarge", "availability_zone": "us-west-2a", "lifecycle": "spot"},
             "2": {"instance_type": "g5.xlarge", "availability_zone": "us-west-2b", "lifecycle": "spot"}}
    store.put_bytes("runs/r1/progress.json", json.dumps({"state": "succeeded", "hosts": hosts}).encode())
    reclaimed = Attempt(100.0, 1900.0, None, "Host EC2 (instance i-1) terminated.")
    done = Attempt(2200.0, 4000.0, 0, None)
    backend = OneJobBackend(store, job_of(store, "SUCCEEDED", [reclaimed, done]))
    monkeypatch.setattr(Wiring, "backend", property(lambda self: backend))
    return store, backend


def test_a_jobs_page_shows_its_attempts_as_the_backend_saw_them(published, tmp_path):
    result = run("report", "local-1", "--home", tmp_path / "home", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["published"] and doc["run_id"] == "r1" and doc["job_id"] == "local-1"
    page = tmp_path / "home" / "reports" / "r1.html"
    assert doc["report"] == str(page) and doc["bytes"] == page.stat().st_size
    text = page.read_text()
    assert "Host EC2 (instance i-1) terminated." in text and "attempt 1: reclaimed" in text
    assert "<td>GPU-hours</td><td>1.000</td>" in text  # two 30-minute attempts on the gpu queue
    assert "<td>g4dn.xlarge spot</td>" in text and "<td>g5.xlarge spot</td>" in text  # as the trainer recorded
    assert "<td>cost</td><td>local run: no cloud GPU, no cost</td>" in text  # as monitor says it


def test_a_running_job_gets_its_history_so_far(published, tmp_path):
    store, backend = published
    for name in ("metrics.json", "manifest.json", "evaluation.json", "dataset.json", "history.json"):
        (store.root / "runs/r1/model" / name).unlink()
    backend.job = job_of(store, "RUNNING")
    result = run("report", "--home", tmp_path / "home", "-o", tmp_path / "now.html")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "now.html")
    # `latest` (the default) is the newest job, running or not, and the command says which it took.
    assert "latest: job local-1 (pinball), the newest job, RUNNING" in result.stderr.splitlines()
    assert "no model published yet" in result.stderr
    text = (tmp_path / "now.html").read_text()
    assert "no model yet" in text and "training loss" not in text  # the chart text is inside the SVG
    assert text.count("data:image/svg+xml") == 2  # the two training-curve charts


def test_a_job_with_nothing_recorded_is_one_line_and_exit_2(published, tmp_path):
    store, backend = published
    (store.root / "runs/r1").rename(tmp_path / "gone")
    backend.job = job_of(store, "RUNNABLE")
    result = run("report", "local-1", "--home", tmp_path / "home")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "has recorded no training yet" in result.stderr


def test_a_sweep_names_its_children_s_pages(published, tmp_path):
    store, backend = published
    backend.job = JobInfo("local-9", "sweep", "SUCCEEDED", created_at=1.0, output=store.uri("runs/s9/"), array_size=2)
    result = run("report", "local-9", "--home", tmp_path / "home")
    assert result.exit_code == 2
    assert "is a sweep of 2: each child has its own page, e.g. ocrbatch report local-9:0" in result.stderr
    assert "has recorded no training" not in result.stderr


def test_a_downloaded_models_page_goes_to_the_reports_folder(model_folder, tmp_path):
    result = run("report", model_folder, "--home", tmp_path / "home")
    assert result.exit_code == 0, result.stderr
    page = tmp_path / "home" / "reports" / f"{model_folder.name}.html"
    assert result.stdout.strip() == str(page) and page.stat().st_size > 50_000
    assert not (model_folder / "report.html").exists()  # a model's own files are never rewritten


def test_monitor_and_list_point_to_the_published_page(published):
    store, backend = published
    store.put_bytes("runs/r1/model/report.html", b"<html></html>")
    lines = describe_snapshot(snapshot(backend, backend.job))
    assert "report: " + store.uri("runs/r1/model/report.html") in lines
    (store.root / "runs/r1/model/report.html").unlink()
    assert snapshot(backend, backend.job)["report_uri"] is None  # a model from before pages: no line


def test_without_matplotlib_the_command_says_how_to_install_it(model_folder, tmp_path):
    script = ("import sys; sys.modules['matplotlib'] = None; sys.modules['matplotlib.figure'] = None\n"
              "from ocrbatch.cli import main\n"
              f"sys.argv = ['ocrbatch', 'report', {str(model_folder)!r}, '--home', {str(tmp_path)!r}]\n"
              "main()")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "error: the report's charts need matplotlib, which comes with the train extra: pip install 'ocrbatch[train]'"]


def test_open_hands_the_page_to_the_browser(model_folder, tmp_path, monkeypatch):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser, "open", lambda uri: opened.append(uri) or False)
    result = run("report", model_folder, "--home", tmp_path, "--open")
    assert result.exit_code == 0, result.stderr
    page = tmp_path / "reports" / f"{model_folder.name}.html"
    assert opened == [page.as_uri()]
    assert f"no browser to open it with here; open {page}" in result.stderr  # this one said it could not


def test_a_page_in_s3_comes_with_how_to_open_it():
    lines = describe_snapshot({"job_id": "0f0e-1", "job_name": "demo", "status": "SUCCEEDED",
                               "report_uri": "s3://bucket/runs/r1/model/report.html"})
    assert "report: s3://bucket/runs/r1/model/report.html (to open it: ocrbatch report 0f0e-1 --open)" in lines


def test_a_jobs_page_is_built_from_its_run_in_s3(model_folder, tmp_path, monkeypatch):
    import boto3
    from moto import mock_aws

    from ocrbatch.jobs.run_report import build_job_report
    from ocrbatch.storage import S3Store

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="runs-bucket")
        for path in model_folder.iterdir():
            if path.name != "history.json":  # the live history alone: a model without one still draws curves
                client.put_object(Bucket="runs-bucket", Key=f"runs/r1/model/{path.name}", Body=path.read_bytes())
        client.put_object(Bucket="runs-bucket", Key="runs/r1/history.json",
                          Body=(model_folder / "history.json").read_bytes())
        store = S3Store(client, "runs-bucket")
        job = JobInfo("0f0e0d0c-0000-4000-8000-000000000001", "demo", "SUCCEEDED", queue="q-gpu",
                      output="s3://runs-bucket/runs/r1/")
        result = build_job_report(OneJobBackend(store, job), job, tmp_path / "page.html")
    assert result["published"] and result["run_id"] == "r1"
    text = (tmp_path / "page.html").read_text()
    assert "Attempt 2 resumes" in text and "Error gallery" in text
