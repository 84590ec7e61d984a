"""Datasets that cannot lie: fetches are all or nothing, everything is checked from the version id
down, damage is contained and repaired by uploading again, and the index travels as a delta."""

from __future__ import annotations

import errno
import fcntl
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataset_builders import image_bytes, make_dataset
from ocrbatch.cli import app
from ocrbatch.datasets import fetch_dataset, list_versions, publish_dataset
from ocrbatch.datasets import manifest as manifest_module
from ocrbatch.datasets import staging
from ocrbatch.datasets.checks import verify_versions
from ocrbatch.datasets.fetch import MARKER_NAME
from ocrbatch.datasets.manifest import encode_chunk, iter_index, read_manifest
from ocrbatch.datasets.catalog import scan_versions
from ocrbatch.errors import BadInput, IntegrityError, StoreError
from ocrbatch.layout import DatasetLayout
from ocrbatch.storage import LocalStore

SMALL_SHARDS = 600
runner = CliRunner()


@pytest.fixture
def store(tmp_path):
    return LocalStore(tmp_path / "store")


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def shard_of(store, version, path: str) -> str:
    manifest = read_manifest(store, version.name, version.version_id)
    entry = next(e for e in iter_index(store, manifest) if e[0] == path)
    return DatasetLayout(version.name).shard(entry[3])


def manifest_path(store, version) -> Path:
    return store.root / DatasetLayout(version.name).manifest(version.version_id)


def beside(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}.ocrbatch-"))


# --- 1. all or nothing -------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_a_failed_fetch_leaves_the_destination_as_it_was(store, dataset, tmp_path, damage):
    first = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    dest = tmp_path / "fetched"
    fetch_dataset(store, first.key, dest)
    before = tree(dest)

    (dataset / "imgs" / "0004.png").write_bytes(image_bytes(404))  # a newer version, one shard damaged
    second = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    shard = store.root / shard_of(store, second, "imgs/0004.png")
    if damage == "missing":
        shard.unlink()
    else:
        data = bytearray(shard.read_bytes())
        data[len(data) // 3] ^= 0xFF
        shard.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=shard.name):
        fetch_dataset(store, second.key, dest)
    assert tree(dest) == before  # the old labels and images, all of them, nothing of the new version
    assert beside(dest) == []

    fresh = tmp_path / "fresh"
    with pytest.raises(IntegrityError):
        fetch_dataset(store, second.key, fresh)
    assert not fresh.exists() and beside(fresh) == []


def test_an_interrupted_swap_is_undone_by_the_next_fetch(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball")
    dest = tmp_path / "fetched"
    fetch_dataset(store, version.key, dest)
    before = tree(dest)
    # As if killed between the two renames: the old tree aside, the new one not yet moved in.
    os.rename(dest, tmp_path / ".fetched.ocrbatch-old-1234")
    (tmp_path / ".fetched.ocrbatch-partial-5678").mkdir()
    with staging.exclusive(dest):
        pass
    assert tree(dest) == before and beside(dest) == []


def test_fetch_refuses_a_folder_it_did_not_write_and_keeps_files_added_to_one_it_did(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(BadInput, match="not empty"):
        fetch_dataset(store, version.key, foreign)
    assert tree(foreign) == {"notes.txt": b"keep me"}

    dest = tmp_path / "fetched"
    fetch_dataset(store, version.key, dest)
    (dest / "notes.txt").write_text("mine")
    (dest / "imgs" / "0004.png").write_bytes(b"tampered")
    fetch_dataset(store, version.key, dest)
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "imgs" / "0004.png").read_bytes() == (dataset / "imgs" / "0004.png").read_bytes()


def test_two_fetches_into_one_folder_take_turns(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball")
    dest = tmp_path / "fetched"
    waited = []
    fd = os.open(tmp_path / ".fetched.ocrbatch-lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another fetch holds the folder

    import threading

    worker = threading.Thread(target=fetch_dataset, args=(store, version.key, dest), kwargs={"on_wait": lambda: waited.append(1)})
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive() and waited == [1] and not dest.exists()
    os.unlink(tmp_path / ".fetched.ocrbatch-lock")  # as a holder does when it is done
    os.close(fd)
    worker.join(timeout=30)
    assert not worker.is_alive() and (dest / MARKER_NAME).exists()
    assert not (tmp_path / ".fetched.ocrbatch-lock").exists()


# --- 2. verified from the version id down ------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["content"].update(characters=m["content"]["characters"] + "Z"),
        lambda m: m["content"].update(files=m["content"]["files"] - 1),
        lambda m: m["content"]["labels"]["train"].update(size=1),
        lambda m: m.update(version_id="0" * 16),
        lambda m: m.update(shards={}),
    ],
    ids=["characters", "file-count", "label-size", "version-id", "shards"],
)
def test_a_tampered_manifest_is_refused_in_one_line(store, dataset, tmp_path, edit):
    version = publish_dataset(store, dataset, name="pinball")
    path = manifest_path(store, version)
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))  # still valid JSON
    with pytest.raises(IntegrityError) as caught:
        fetch_dataset(store, version.key, tmp_path / "fetched")
    assert "\n" not in str(caught.value) and caught.value.exit_code == 3
    assert not (tmp_path / "fetched").exists()


def test_a_tampered_index_is_refused(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball")
    path = manifest_path(store, version)
    manifest = json.loads(path.read_text())
    # A well-formed index chunk, stored under its own correct name, that drops one file: the
    # chunk checks out, the digest chain to the version id does not.
    lines = [e for e in iter_index(store, read_manifest(store, "pinball", version.version_id))][1:]
    raw = "".join(f"{p}\t{s}\t{n}\t{sh}\t{o}\n" for p, s, n, sh, o in lines).encode()
    sha, blob = encode_chunk(raw)
    store.put_bytes(DatasetLayout("pinball").chunk(sha), blob)
    manifest["index"] = [[sha, len(blob), len(lines)]]
    path.write_text(json.dumps(manifest))
    with pytest.raises(IntegrityError, match="does not match the version id"):
        fetch_dataset(store, version.key, tmp_path / "fetched")

    chunk = store.root / DatasetLayout("pinball").chunk(sha)
    chunk.write_bytes(blob[:-3])  # and a damaged chunk is named
    with pytest.raises(IntegrityError, match=chunk.name):
        fetch_dataset(store, version.key, tmp_path / "fetched")


# --- 3. damage contained and repairable --------------------------------------------------------


def test_a_broken_manifest_is_listed_apart_and_repaired_by_uploading_again(store, dataset, tmp_path):
    other = publish_dataset(store, make_dataset(tmp_path / "other", start=50), name="other")
    version = publish_dataset(store, dataset, name="pinball")
    manifest_path(store, version).write_text("{ not json")
    versions, damaged = scan_versions(store)
    assert [v.ref for v in versions] == [other.ref]
    assert [d.ref for d in damaged] == [version.ref] and "not valid JSON" in damaged[0].problem
    with pytest.raises(IntegrityError, match="damaged version"):
        fetch_dataset(store, "pinball", tmp_path / "f")

    repaired = publish_dataset(store, dataset, name="pinball")
    assert repaired.version_id == version.version_id and repaired.repaired and not repaired.reused
    assert {v.ref for v in list_versions(store)} == {other.ref, version.ref}
    local = fetch_dataset(store, "pinball", tmp_path / "f")
    assert local.train_labels.read_text() == (dataset / "train.txt").read_text()


def test_a_missing_shard_is_store_damage_and_uploading_again_resends_it(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    shard = store.root / shard_of(store, version, "imgs/0004.png")
    shard.unlink()
    with pytest.raises(IntegrityError) as caught:
        fetch_dataset(store, version.key, tmp_path / "f")
    assert caught.value.exit_code == 3 and "missing" in str(caught.value)

    again = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    assert again.repaired and 0 < again.uploaded_bytes < version.uploaded_bytes
    assert publish_dataset(store, dataset, name="pinball").reused
    local = fetch_dataset(store, version.key, tmp_path / "f")
    assert (local.root / "imgs/0004.png").read_bytes() == (dataset / "imgs/0004.png").read_bytes()


def test_verify_names_what_is_damaged(store, dataset, tmp_path):
    good = publish_dataset(store, make_dataset(tmp_path / "other", start=50), name="other")
    version = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    assert all(check.ok for check in verify_versions(store))
    shard = store.root / shard_of(store, version, "imgs/0004.png")
    data = bytearray(shard.read_bytes())
    data[-700] ^= 1  # inside the tar padding: every file still matches, the shard does not
    shard.write_bytes(bytes(data))
    checks = {check.ref: check for check in verify_versions(store)}
    assert checks[good.ref].ok
    assert not checks[version.ref].ok and shard.name in checks[version.ref].problems[0]
    assert [c.ref for c in verify_versions(store, "other")] == [good.ref]


def test_cli_verify_lists_and_exits_3_on_damage(store, dataset, tmp_path, monkeypatch):
    for name in ("OCRBATCH_BACKEND", "OCRBATCH_HOME", "OCRBATCH_STACK", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    assert runner.invoke(app, ["upload", str(dataset), "--local", "--home", str(home), "--name", "pinball"]).exit_code == 0
    ok = runner.invoke(app, ["datasets", "--verify", "--local", "--home", str(home)])
    assert ok.exit_code == 0 and ok.stdout.startswith("ok  pinball@")
    manifest = next((home / "store" / "datasets/pinball/versions").glob("*/manifest.json"))
    manifest.write_text("{}")
    listed = runner.invoke(app, ["datasets", "--local", "--home", str(home)])
    assert listed.exit_code == 0 and "damaged" in listed.stderr
    checked = runner.invoke(app, ["datasets", "--verify", "--local", "--home", str(home), "--json"])
    assert checked.exit_code == 3
    assert json.loads(checked.stdout)[0]["ok"] is False
    assert checked.stderr.strip().splitlines()[-1].startswith("error: 1 of 1 version(s) damaged")
    monkeypatch.setenv("OCRBATCH_DEBUG", "1")
    fetched = runner.invoke(app, ["fetch", "pinball", str(tmp_path / "f"), "--local", "--home", str(home)])
    assert fetched.exit_code == 3 and "Traceback" in fetched.stderr  # debug adds the traceback only
    monkeypatch.delenv("OCRBATCH_DEBUG")
    repaired = runner.invoke(app, ["upload", str(dataset), "--local", "--home", str(home), "--name", "pinball", "--repair"])
    assert repaired.exit_code == 0 and "re-sent what was missing" in repaired.stderr
    assert runner.invoke(app, ["datasets", "--verify", "--local", "--home", str(home)]).exit_code == 0


# --- 4. clean-up and messages ------------------------------------------------------------------


def test_scratch_of_killed_uploads_is_reclaimed_and_ctrl_c_removes_its_own(store, dataset, tmp_path, monkeypatch):
    monkeypatch.setattr(staging.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    killed = tmp_path / "tmp" / "ocrbatch-staging-killed"
    killed.mkdir()
    (killed / staging.LOCK_NAME).touch()
    (killed / "shard-0.tar").write_bytes(b"x" * 1000)
    live = tmp_path / "tmp" / "ocrbatch-staging-live"
    live.mkdir()
    fd = os.open(live / staging.LOCK_NAME, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        publish_dataset(store, dataset, name="pinball")
        assert not killed.exists() and live.exists()
    finally:
        os.close(fd)

    class CtrlC(LocalStore):
        def put_file(self, key, path, progress=None):
            raise KeyboardInterrupt

    (dataset / "imgs" / "0004.png").write_bytes(image_bytes(404))
    with pytest.raises(KeyboardInterrupt):
        publish_dataset(CtrlC(store.root), dataset, name="pinball")
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == []


def test_transport_and_disk_errors_name_the_object_and_say_what_to_do(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball")

    class Flaky(LocalStore):
        def get_file(self, key, path, progress=None):
            raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")

    with pytest.raises(StoreError) as caught:
        fetch_dataset(Flaky(store.root), version.key, tmp_path / "f")
    message = str(caught.value)
    assert "/shards/" in message and "Connection reset by peer" in message and "run the command again" in message

    class FullDisk(LocalStore):
        def get_file(self, key, path, progress=None):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

    with pytest.raises(StoreError, match="No space left on device; free some space") as caught:
        fetch_dataset(FullDisk(store.root), version.key, tmp_path / "f")
    assert caught.value.exit_code == 3 and not (tmp_path / "f").exists()


# --- 5. scale: a small change sends a small delta ----------------------------------------------


def test_a_one_file_change_sends_one_index_chunk_and_the_changed_labels(store, tmp_path, monkeypatch):
    monkeypatch.setattr(manifest_module, "CHUNK_MEAN_LINES", 8)
    folder = make_dataset(tmp_path / "big", train=300, val=30)
    first = publish_dataset(store, folder, name="big")
    manifest = read_manifest(store, "big", first.version_id)
    assert len(manifest["index"]) > 10 and len(manifest["labels"]["train"]) > 10

    sent = []

    class Recording(LocalStore):
        def put_bytes(self, key, data):
            sent.append((key, len(data)))
            super().put_bytes(key, data)

        def put_file(self, key, path, progress=None):
            sent.append((key, Path(path).stat().st_size))
            super().put_file(key, path, progress)

    (folder / "imgs" / "0100.png").write_bytes(image_bytes(7, size=(13, 9)))  # one image changed
    lines = (folder / "train.txt").read_text().splitlines(True)
    lines[7] = lines[7].split("\t")[0] + "\tchanged\n"  # one label changed
    (folder / "train.txt").write_text("".join(lines))
    second = publish_dataset(Recording(store.root), folder, name="big")
    chunks = [key for key, _ in sent if "/chunks/" in key]
    assert len([k for k, _ in sent if "/shards/" in k]) == 1
    assert 2 <= len(chunks) <= 5  # one index chunk (or two, where a boundary moved), one label chunk
    assert sum(size for _, size in sent) < first.uploaded_bytes / 10
    local = fetch_dataset(store, second.key, tmp_path / "f")
    assert local.train_labels.read_text() == (folder / "train.txt").read_text()
    assert (local.root / "imgs/0100.png").read_bytes() == (folder / "imgs/0100.png").read_bytes()


def test_a_truncated_chunk_is_sent_again(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball")
    manifest = read_manifest(store, "pinball", version.version_id)
    chunk = store.root / DatasetLayout("pinball").chunk(manifest["index"][0][0])
    chunk.write_bytes(chunk.read_bytes()[:-5])
    with pytest.raises(IntegrityError, match=chunk.name):
        fetch_dataset(store, version.key, tmp_path / "f")
    assert publish_dataset(store, dataset, name="pinball").repaired
    assert fetch_dataset(store, version.key, tmp_path / "f").train_labels.exists()


def test_fetching_the_version_a_folder_holds_builds_nothing(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball")
    dest = tmp_path / "fetched"
    fetch_dataset(store, version.key, dest)
    folder = os.stat(dest).st_ino
    fetch_dataset(store, version.key, dest)
    assert os.stat(dest).st_ino == folder and beside(dest) == []  # checked in place, not rebuilt
    (dest / "imgs" / "0004.png").write_bytes(b"tampered")
    fetch_dataset(store, version.key, dest)
    assert (dest / "imgs" / "0004.png").read_bytes() == (dataset / "imgs" / "0004.png").read_bytes()


def test_upload_repair_resends_a_shard_that_is_present_but_wrong(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    shard = store.root / shard_of(store, version, "imgs/0004.png")
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 1  # same size: a listing cannot tell
    shard.write_bytes(bytes(data))
    assert publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS).reused
    repaired = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS, repair=True)
    assert repaired.repaired and repaired.version_id == version.version_id
    assert all(check.ok for check in verify_versions(store))
    local = fetch_dataset(store, version.key, tmp_path / "f")
    assert (local.root / "imgs/0004.png").read_bytes() == (dataset / "imgs/0004.png").read_bytes()
    assert publish_dataset(store, dataset, name="pinball", repair=True).reused  # nothing left to repair
