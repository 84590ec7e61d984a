"""The `upload`, `validate` and `datasets` commands: stdout/stderr discipline, exit codes, flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ocrbatch.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("OCRBATCH_BACKEND", "OCRBATCH_HOME", "OCRBATCH_STACK", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return str(tmp_path / "home")


def test_upload_prints_the_uri_and_reuses_on_rerun(dataset, home):
    first = runner.invoke(app, ["upload", str(dataset), "--local", "--home", home, "--name", "pinball"])
    assert first.exit_code == 0, first.stderr
    uri = first.stdout.strip()
    assert uri.startswith("file://") and "/datasets/pinball/versions/" in uri
    assert "11 images" in first.stderr

    again = runner.invoke(app, ["upload", "--training-data", str(dataset), "--local", "--home", home, "--name", "pinball", "--json"])
    assert again.exit_code == 0, again.stderr
    result = json.loads(again.stdout)  # exactly one JSON document
    assert result["uri"] == uri and result["reused"] is True and result["uploaded_bytes"] == 0
    assert {"name", "version_id", "key", "files", "bytes", "task", "created_at"} <= set(result)
    assert "nothing sent" in again.stderr


def test_upload_names_the_dataset_after_the_folder(dataset, home):
    result = runner.invoke(app, ["upload", str(dataset), "--local", "--home", home, "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "data"


def test_upload_of_a_bad_dataset_lists_problems_then_one_line(dataset, home):
    (dataset / "train.txt").write_text("imgs/0001.png\t1\nimgs/missing.png\t2\nno tab\n")
    result = runner.invoke(app, ["upload", str(dataset), "--local", "--home", home])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: train.txt:2: image not found: imgs/missing.png (paths are relative to the dataset folder)"
    assert lines[1] == "error: train.txt:3: no tab between image path and label"
    assert lines[-1].startswith("error: ") and "2 error(s)" in lines[-1] and "nothing was uploaded" in lines[-1]
    assert not (os.path.exists(os.path.join(home, "store", "datasets")))

    skipped = runner.invoke(app, ["upload", str(dataset), "--local", "--home", home, "--skip-bad", "--json"])
    assert skipped.exit_code == 0, skipped.stderr
    assert "skipped 2 bad line(s)" in skipped.stderr
    assert json.loads(skipped.stdout)["counts"]["train"] == 1


def test_validate_reports_without_uploading(dataset, home):
    ok = runner.invoke(app, ["validate", str(dataset), "--json"])
    assert ok.exit_code == 0
    report = json.loads(ok.stdout)
    assert report["ok"] is True and report["task"] == "rec" and report["counts"]["images"] == 11

    (dataset / "train.txt").unlink()
    bad = runner.invoke(app, ["validate", str(dataset)])
    assert bad.exit_code == 2
    assert "no train label file" in bad.stdout
    assert bad.stderr.startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1


def test_datasets_lists_versions(dataset, home):
    empty = runner.invoke(app, ["datasets", "--local", "--home", home, "--json"])
    assert empty.exit_code == 0 and json.loads(empty.stdout) == []
    runner.invoke(app, ["upload", str(dataset), "--local", "--home", home, "--name", "pinball"])
    table = runner.invoke(app, ["datasets", "--local", "--home", home])
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split()[:5] == ["VERSION", "TASK", "FILES", "SIZE", "CREATED"]
    assert "pinball@" in table.stdout and " 11 " in table.stdout
    listed = json.loads(runner.invoke(app, ["datasets", "pinball", "--local", "--home", home, "--json"]).stdout)
    assert [v["name"] for v in listed] == ["pinball"]


def test_bad_flags(dataset, home, tmp_path):
    assert runner.invoke(app, ["upload", "--local", "--home", home]).exit_code == 2
    both = runner.invoke(app, ["upload", str(dataset), "--training-data", str(tmp_path), "--local", "--home", home])
    assert both.exit_code == 2 and "two different folders" in both.stderr
    bad_name = runner.invoke(app, ["upload", str(dataset), "--name", "no spaces please", "--local", "--home", home])
    assert bad_name.exit_code == 2 and "dataset name" in bad_name.stderr


def test_upload_and_list_against_an_s3_server(dataset, s3_server, s3_bucket, tmp_path):
    """The real entry point, in a subprocess, against the loopback S3 server with --aws --s3-bucket."""
    env = {**os.environ, **s3_server, "OCRBATCH_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("AWS_PROFILE", None)
    command = [sys.executable, "-m", "ocrbatch", "upload", str(dataset), "--aws", "--s3-bucket", s3_bucket, "--json"]
    uploaded = subprocess.run(command + ["--name", "cli-test"], env=env, capture_output=True, text=True, timeout=120)
    assert uploaded.returncode == 0, uploaded.stderr
    version = json.loads(uploaded.stdout)
    assert version["uri"] == f"s3://{s3_bucket}/datasets/cli-test/versions/{version['version_id']}"
    listed = subprocess.run(
        [sys.executable, "-m", "ocrbatch", "datasets", "--aws", "--s3-bucket", s3_bucket, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert version["version_id"] in [v["version_id"] for v in json.loads(listed.stdout)]

    # Fetch builds its client on first use, from several download threads at once.
    dest = tmp_path / "fetched"
    fetched = subprocess.run(
        [sys.executable, "-m", "ocrbatch", "fetch", f"cli-test@{version['version_id']}", str(dest), "--aws",
         "--s3-bucket", s3_bucket],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fetched.returncode == 0, fetched.stderr
    originals = {p.relative_to(dataset): p.read_bytes() for p in (dataset / "imgs").iterdir()}
    assert originals and all((dest / rel).read_bytes() == data for rel, data in originals.items())


def test_fetch_writes_paddleocr_layout(dataset, home, tmp_path):
    uploaded = runner.invoke(app, ["upload", str(dataset), "--local", "--home", home, "--name", "pinball"])
    assert uploaded.exit_code == 0, uploaded.stderr
    dest = tmp_path / "fetched"
    fetched = runner.invoke(app, ["fetch", "pinball", str(dest), "--local", "--home", home, "--json"])
    assert fetched.exit_code == 0, fetched.stderr
    result = json.loads(fetched.stdout)
    assert result["version"] == uploaded.stdout.strip() and result["task"] == "rec"
    assert (dest / "train.txt").read_text() == (dataset / "train.txt").read_text()
    missing = runner.invoke(app, ["fetch", "nope", str(dest), "--local", "--home", home])
    assert missing.exit_code == 2 and missing.stderr.startswith("error: no dataset 'nope'")


def test_progress_bar_waits_before_drawing_on_a_terminal(monkeypatch):
    """A quick step never starts rich (its import and refresh thread cost a fast command a third of
    its time); a step still running after SHOW_AFTER_S gets its bar."""
    from ocrbatch.cli import common
    from ocrbatch.cli.datasets import ProgressBar

    started = []
    monkeypatch.setattr(common, "stderr_is_tty", lambda: True)
    monkeypatch.setattr(ProgressBar, "_start", staticmethod(lambda: started.append(1) or FakeProgress()))
    clock = [100.0]
    monkeypatch.setattr("ocrbatch.cli.datasets.time.monotonic", lambda: clock[0])

    with ProgressBar() as bar:
        bar("validating", 10, 100)
        clock[0] += ProgressBar.SHOW_AFTER_S / 2
        bar("validating", 50, 100)
    assert started == []

    with ProgressBar() as bar:
        clock[0] += ProgressBar.SHOW_AFTER_S
        bar("uploading", 5, 10)
        bar("uploading", 10, 10)
    assert started == [1]


def test_progress_bar_stays_silent_off_a_terminal(monkeypatch):
    from ocrbatch.cli import common
    from ocrbatch.cli.datasets import ProgressBar

    monkeypatch.setattr(common, "stderr_is_tty", lambda: False)
    monkeypatch.setattr(ProgressBar, "_start", staticmethod(lambda: pytest.fail("drew a bar off a terminal")))
    monkeypatch.setattr(ProgressBar, "SHOW_AFTER_S", 0.0)
    with ProgressBar() as bar:
        bar("uploading", 1, 2)


class FakeProgress:
    def __init__(self):
        self.updates = []

    def add_task(self, stage, total, completed=0):
        return stage

    def update(self, task, completed, total):
        self.updates.append((task, completed, total))

    def stop(self):
        pass
