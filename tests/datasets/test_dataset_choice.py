"""Which dataset a training command takes: a bare word is a published version, a folder is written as a
path; a folder's upload options (PPOCRLabel's unchecked images, --skip-bad) are the same on submit,
pipeline and sweep as on upload."""

from __future__ import annotations

import json

import pytest

from dataset_builders import image_bytes, make_dataset, make_ppocrlabel
from ocrbatch.cli import common as cli_common
from ocrbatch.datasets import list_versions, publish_dataset
from ocrbatch.errors import BadInput
from ocrbatch.jobs.backend import JobInfo
from ocrbatch.jobs.dataset_choice import DatasetChoice, resolve_dataset
from ocrbatch.storage import LocalStore
from tests.cli_runner import run as cli


class RecordingBackend:
    """A job backend that records what it was asked to run and runs nothing."""

    name = "local"

    def __init__(self, store):
        self.store = store
        self.submitted = []

    def submit(self, request):
        self.submitted.append(request)
        return JobInfo(job_id=f"job-{len(self.submitted)}", job_name=request.job_name, status="SUBMITTED")


@pytest.fixture
def here(tmp_path, monkeypatch):
    """The current directory holds the user's folders; the store is elsewhere."""
    for name in ("OCRBATCH_BACKEND", "OCRBATCH_STACK", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OCRBATCH_HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def backend(tmp_path, monkeypatch):
    fake = RecordingBackend(LocalStore(tmp_path / "store"))
    monkeypatch.setattr(cli_common, "open_backend", lambda target, deadline=None: fake)
    return fake


def stop_following(monkeypatch):
    """`pipeline` follows its job: here it stops at once (exit 124); the dataset part is what is tested."""
    from ocrbatch.cli import submit as submit_cli
    from ocrbatch.errors import WaitTimedOut

    class StopAtOnce:
        def follow(self, job_id, timeout=None):
            raise WaitTimedOut(job_id, "RUNNABLE", 1)

    monkeypatch.setattr(submit_cli, "job_monitor", lambda backend, show_logs: StopAtOnce())


def test_a_bare_word_takes_the_published_dataset_not_the_folder_of_that_name(here, backend):
    published = publish_dataset(backend.store, make_dataset(here / "my-data"), name="my-data")
    (here / "my-data" / "imgs" / "0000.jpg").write_bytes(image_bytes(99, "JPEG"))  # edited since

    result = cli("submit", "--dataset", "my-data", "--json")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["dataset"] == published.uri
    assert [request.spec.dataset for request in backend.submitted] == [published.uri]
    assert len(list_versions(backend.store)) == 1  # the edited folder was not uploaded
    assert f"using {published.ref}, not the folder ./my-data" in result.stderr
    assert "--dataset ./my-data" in result.stderr


def test_a_folder_written_as_a_path_is_uploaded(here, backend):
    publish_dataset(backend.store, make_dataset(here / "my-data"), name="my-data")
    (here / "my-data" / "imgs" / "0000.jpg").write_bytes(image_bytes(99, "JPEG"))

    result = cli("submit", "--dataset", "./my-data", "--json")

    assert result.exit_code == 0, result.stderr
    newest = list_versions(backend.store, "my-data")[0]
    assert len(list_versions(backend.store)) == 2
    assert json.loads(result.stdout)["dataset"] == newest.uri


def test_a_bare_word_that_only_a_folder_has_stops_and_says_how_to_upload_it(here, backend):
    make_dataset(here / "my-data")

    result = cli("submit", "--dataset", "my-data")

    assert result.exit_code == 2
    assert "no dataset 'my-data'" in result.stderr and "--dataset ./my-data" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert backend.submitted == [] and list_versions(backend.store) == []


@pytest.mark.parametrize("flags", [["--val-fraction", "0.2"], ["--include-unchecked"], ["--dataset-name", "other"]])
def test_folder_options_with_a_published_version_are_refused(here, backend, flags):
    published = publish_dataset(backend.store, make_dataset(here / "scores"), name="scores")

    result = cli("submit", "--dataset", "scores", *flags)

    assert result.exit_code == 2
    assert f"{flags[0]} applies to a folder being uploaded" in result.stderr and published.ref in result.stderr
    assert backend.submitted == []


def test_a_missing_folder_is_named(here, backend):
    result = cli("submit", "--dataset", "./not-here")
    assert result.exit_code == 2 and "dataset folder not found: ./not-here" in result.stderr


def test_a_path_object_is_always_a_folder(tmp_path):
    store = LocalStore(tmp_path / "store")
    folder = make_dataset(tmp_path / "plain")  # a bare name as a str, but code passing a Path means the folder
    version = resolve_dataset(store, DatasetChoice(folder, name="plain"))
    assert version.uri == list_versions(store)[0].uri
    with pytest.raises(BadInput, match="is required"):
        resolve_dataset(store, DatasetChoice("  "))


@pytest.mark.parametrize("command", ["submit", "pipeline", "sweep"])
def test_ppocrlabel_unchecked_images_are_said_and_included_on_request(here, backend, command, monkeypatch):
    make_ppocrlabel(here / "photos", count=6, unchecked=(1, 4), export_crops=False)  # crops cut from Label.txt
    extra = {"submit": [], "pipeline": ["--timeout", "1s"], "sweep": ["--grid", "epochs=1,2"]}[command]
    if command == "pipeline":
        stop_following(monkeypatch)

    left_out = cli(command, "--dataset", "./photos", *extra)
    taken = cli(command, "--dataset", "./photos", "--include-unchecked", *extra)
    assert left_out.exit_code == taken.exit_code == (124 if command == "pipeline" else 0), left_out.stderr

    assert "2 labelled image(s) not checked in PPOCRLabel: photo_001.jpg, photo_004.jpg: left out; " \
           "--include-unchecked takes them too" in left_out.stderr
    assert "included (--include-unchecked)" in taken.stderr
    if command == "pipeline":
        assert "to the local queue" in taken.stderr  # not "the local gpu queue" on a machine without one
    versions = list_versions(backend.store, "photos")
    assert len(versions) == 2
    assert sorted(v.files for v in versions) == [6, 9]  # photos 1 (two boxes) and 4 (one): left out, then taken


def test_nothing_checked_stops_a_submit_with_what_to_do(here, backend):
    make_ppocrlabel(here / "photos", count=3, unchecked=(0, 1, 2), export_crops=False)
    result = cli("submit", "--dataset", "./photos")
    assert result.exit_code == 2
    assert "pass --include-unchecked" in result.stderr
    assert backend.submitted == [] and list_versions(backend.store) == []


@pytest.mark.parametrize("command", ["submit", "pipeline", "sweep"])
def test_without_a_dataset_every_training_command_takes_the_newest_version(here, backend, command, monkeypatch):
    publish_dataset(backend.store, make_dataset(here / "older"), name="older")
    newest = publish_dataset(backend.store, make_dataset(here / "newer", start=50), name="newer")
    extra = {"submit": [], "pipeline": ["--timeout", "1s"], "sweep": ["--grid", "epochs=1,2"]}[command]
    stop_following(monkeypatch)

    result = cli(command, *extra)

    assert result.exit_code == (124 if command == "pipeline" else 0), result.stderr
    assert f"using the newest dataset version, {newest.uri}" in result.stderr
    assert {request.spec.dataset for request in backend.submitted} == {newest.uri}


def test_a_dry_run_validates_the_folder_and_names_the_version_it_would_publish(here, backend):
    make_ppocrlabel(here / "photos", count=6, unchecked=(1, 4), export_crops=False)

    planned = cli("submit", "--dataset", "./photos", "--dry-run", "--json")

    assert planned.exit_code == 0, planned.stderr
    assert list_versions(backend.store) == [] and backend.submitted == []  # nothing sent
    assert "2 labelled image(s) not checked in PPOCRLabel" in planned.stderr
    assert cli("submit", "--dataset", "./photos", "--json").exit_code == 0
    (published,) = list_versions(backend.store)
    assert json.loads(planned.stdout)["dataset"] == published.uri

    (here / "photos" / "Label.txt").write_text("photos/photo_000.jpg\t[not json\n", encoding="utf-8")
    broken = cli("submit", "--dataset", "./photos", "--dry-run")
    assert broken.exit_code == 2 and "Label.txt:1" in broken.stderr


def test_fetch_of_a_path_says_it_takes_a_published_version(here, backend):
    make_dataset(here / "my-data")
    result = cli("fetch", "./my-data", "./copy")
    assert result.exit_code == 2 and "fetch takes a published version" in result.stderr
    assert not (here / "copy").exists()
