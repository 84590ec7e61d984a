"""Publishing, fetching, listing and resolving dataset versions, on a local folder store, moto's S3
and a real S3-compatible server on loopback (rclone)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dataset_builders import image_bytes, make_dataset
from ocrbatch.datasets import (
    InvalidDataset,
    fetch_dataset,
    list_versions,
    publish_dataset,
    resolve_version,
)
from ocrbatch.datasets.fetch import MARKER_NAME
from ocrbatch.datasets.manifest import iter_index, read_manifest
from ocrbatch.layout import DatasetLayout
from ocrbatch.errors import BadInput, IntegrityError, NotFound, StoreError
from ocrbatch.storage import LocalStore, store_at

SMALL_SHARDS = 600  # bytes: a few tiny images per shard, so tests see several shards


class RecordingStore:
    """Wraps a store, records what moves, and can fail after a number of shard uploads."""

    def __init__(self, inner, fail_after_shards: int | None = None):
        self.inner = inner
        self.fail_after_shards = fail_after_shards
        self.sent: list[tuple[str, int]] = []
        self.fetched: list[str] = []
        self._lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def put_file(self, key: str, path: Path, progress=None) -> None:
        with self._lock:
            shards = sum(1 for k, _ in self.sent if "/shards/" in k)
            if self.fail_after_shards is not None and shards >= self.fail_after_shards:
                raise ConnectionError("network went away (injected)")
            self.sent.append((key, Path(path).stat().st_size))
        self.inner.put_file(key, path, progress)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._lock:
            self.sent.append((key, len(data)))
        self.inner.put_bytes(key, data)

    def get_file(self, key: str, path: Path, progress=None) -> None:
        with self._lock:
            self.fetched.append(key)
        self.inner.get_file(key, path, progress)

    def shard_uploads(self) -> list[str]:
        return [key for key, _ in self.sent if "/shards/" in key]


@pytest.fixture(params=["local", "moto", "server"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    return request.getfixturevalue("moto_store" if request.param == "moto" else "server_store")


def same_tree(source: Path, fetched: Path, names: list[str]) -> None:
    for name in names:
        assert (fetched / name).read_bytes() == (source / name).read_bytes(), name


def test_publish_then_fetch_round_trip(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    assert version.name == "pinball" and len(version.version_id) == 16
    assert version.key == f"datasets/pinball/versions/{version.version_id}"
    assert version.uri == store.uri(version.key)
    assert version.files == 11 and version.task == "rec" and not version.reused
    assert version.shards > 1 and version.uploaded_bytes > version.bytes
    assert set(version.to_json()) >= {"name", "version_id", "key", "uri", "files", "bytes", "uploaded_bytes", "reused", "task", "created_at"}

    local = fetch_dataset(store, version.key, tmp_path / "fetched")
    assert local.root == tmp_path / "fetched"
    assert local.task == "rec" and local.version == version.uri
    assert local.train_labels.read_text() == (dataset / "train.txt").read_text()
    assert local.val_labels.read_text() == (dataset / "val.txt").read_text()
    same_tree(dataset, local.root, [p.relative_to(dataset).as_posix() for p in (dataset / "imgs").iterdir()])
    labels = [line.split("\t")[1] for f in (local.train_labels, local.val_labels) for line in f.read_text().splitlines()]
    assert local.characters == version.characters == tuple(sorted(set("".join(labels))))


def test_unchanged_reupload_sends_nothing(store, dataset):
    first = publish_dataset(store, dataset, name="pinball")
    recording = RecordingStore(store)
    again = publish_dataset(recording, dataset, name="pinball")
    assert again.reused and again.uploaded_bytes == 0
    assert again.version_id == first.version_id and again.created_at == first.created_at
    assert recording.sent == []


def test_small_change_sends_little(store, dataset, tmp_path):
    first = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    new_image = image_bytes(500)
    (dataset / "imgs" / "new.png").write_bytes(new_image)
    with open(dataset / "train.txt", "a") as labels:
        labels.write("imgs/new.png\t500\n")
    recording = RecordingStore(store)
    second = publish_dataset(recording, dataset, name="pinball")
    assert second.version_id != first.version_id and not second.reused
    shard_bytes = sum(size for key, size in recording.sent if "/shards/" in key)
    labels_size = (dataset / "train.txt").stat().st_size + (dataset / "val.txt").stat().st_size
    # One new shard, for the new image; the labels travel as chunks (val's unchanged, so reused).
    assert len(recording.shard_uploads()) == 1
    assert shard_bytes <= len(new_image) + labels_size + 6 * 512 + 1024
    assert shard_bytes < first.uploaded_bytes / 3

    local = fetch_dataset(store, second.key, tmp_path / "second")
    assert (local.root / "imgs/new.png").read_bytes() == new_image
    assert local.train_labels.read_text() == (dataset / "train.txt").read_text()
    older = fetch_dataset(store, first.ref, tmp_path / "first")
    assert "imgs/new.png" not in older.train_labels.read_text()


def test_interrupted_upload_completes_on_rerun(store, dataset, tmp_path):
    failing = RecordingStore(store, fail_after_shards=2)
    with pytest.raises(StoreError, match=r"could not upload .*/shards/.*network went away"):
        publish_dataset(failing, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    assert len(failing.shard_uploads()) == 2
    assert list_versions(store) == []  # nothing half-visible
    with pytest.raises(NotFound):
        resolve_version(store, "pinball")

    rerun = RecordingStore(store)
    version = publish_dataset(rerun, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    assert not set(rerun.shard_uploads()) & set(failing.shard_uploads())  # sent before: not again
    assert len(rerun.shard_uploads()) == version.shards - 2
    assert rerun.sent[-1][0] == DatasetLayout("pinball").manifest(version.version_id)  # the manifest, last
    local = fetch_dataset(store, version.uri, tmp_path / "fetched")
    assert local.train_labels.read_text() == (dataset / "train.txt").read_text()


def corrupt_one_shard(store, version, *, truncate: bool = False) -> str:
    manifest = read_manifest(store, version.name, version.version_id)
    index = {entry[0]: entry[1:] for entry in iter_index(store, manifest)}
    sha, size, shard, offset = index["imgs/0004.png"]
    key = f"datasets/{version.name}/shards/{shard}.tar"
    data = bytearray(store.get_bytes(key))
    if truncate:
        data = data[: offset + size // 2]
    else:
        data[offset + size // 2] ^= 0xFF
    store.put_bytes(key, bytes(data))
    return key


@pytest.mark.parametrize("truncate", [False, True])
def test_fetch_rejects_a_corrupt_shard(store, dataset, tmp_path, truncate):
    version = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    key = corrupt_one_shard(store, version, truncate=truncate)
    dest = tmp_path / "fetched"
    with pytest.raises(IntegrityError, match=key.rsplit("/", 1)[1]):
        fetch_dataset(store, version.key, dest)
    assert not dest.exists()  # all or nothing: no folder at all
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fetched.ocrbatch-partial")]


def test_fetch_is_idempotent_and_repairs(store, dataset, tmp_path):
    version = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    dest = tmp_path / "fetched"
    fetch_dataset(store, version.key, dest)
    recording = RecordingStore(store)
    fetch_dataset(recording, version.key, dest)
    assert recording.fetched == []
    (dest / "imgs/0004.png").unlink()
    (dest / "imgs/0007.png").write_bytes(b"tampered")
    fetch_dataset(recording, version.key, dest)
    assert 1 <= len(recording.fetched) <= 2  # only the shards holding those two files
    same_tree(dataset, dest, ["imgs/0004.png", "imgs/0007.png", "train.txt", "val.txt"])


def test_fetching_a_newer_version_over_an_older_one_downloads_only_the_difference(store, dataset, tmp_path):
    first = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    dest = tmp_path / "fetched"
    fetch_dataset(store, first.key, dest)
    (dataset / "imgs" / "0002.png").unlink()
    lines = [line for line in (dataset / "train.txt").read_text().splitlines(True) if "0002.png" not in line]
    (dataset / "train.txt").write_text("".join(lines))
    second = publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS)
    recording = RecordingStore(store)
    fetch_dataset(recording, second.key, dest)
    assert recording.fetched == []  # every image is there already; the new labels come as chunks
    assert not (dest / "imgs/0002.png").exists()
    assert json.loads((dest / MARKER_NAME).read_text())["version_id"] == second.version_id


def test_concurrent_uploads_of_the_same_folder_agree(store, dataset, tmp_path, request):
    if request.node.callspec.params["store"] == "moto":
        pytest.skip("moto's in-process S3 breaks on concurrent PUTs of one key (its buffer is closed mid-write)")
    with ThreadPoolExecutor(max_workers=2) as pool:
        versions = list(pool.map(lambda _: publish_dataset(store, dataset, name="pinball", shard_bytes=SMALL_SHARDS), range(2)))
    assert versions[0].version_id == versions[1].version_id
    assert [v.version_id for v in list_versions(store)] == [versions[0].version_id]
    local = fetch_dataset(store, "pinball", tmp_path / "fetched")
    assert local.train_labels.read_text() == (dataset / "train.txt").read_text()


def test_list_and_resolve(store, dataset, tmp_path):
    first = publish_dataset(store, dataset, name="pinball")
    other = publish_dataset(store, make_dataset(tmp_path / "other", start=100), name="other")
    (dataset / "val.txt").write_text("imgs/0000.jpg\t0\n")
    second = publish_dataset(store, dataset, name="pinball")
    assert [v.ref for v in list_versions(store)] == [second.ref, other.ref, first.ref]
    assert [v.ref for v in list_versions(store, "pinball")] == [second.ref, first.ref]
    listed = list_versions(store)[0]
    assert (listed.files, listed.bytes, listed.task, listed.uploaded_bytes) == (second.files, second.bytes, "rec", 0)

    assert resolve_version(store, "pinball").ref == second.ref  # newest
    assert resolve_version(store, f"pinball@{first.version_id[:6]}").ref == first.ref
    assert resolve_version(store, first.key).ref == first.ref
    assert resolve_version(store, first.key + "/manifest.json").ref == first.ref
    assert resolve_version(store, first.uri).ref == first.ref
    with pytest.raises(NotFound):
        resolve_version(store, "missing")
    with pytest.raises(NotFound):
        resolve_version(store, "pinball@ffffffffffff")
    with pytest.raises(BadInput):
        resolve_version(store, "s3://some-other-bucket/datasets/pinball/versions/abc")
    with pytest.raises(BadInput):
        resolve_version(store, "datasets/pinball/shards/x.tar")


def test_invalid_dataset_sends_nothing(store, dataset):
    (dataset / "train.txt").write_text("imgs/0001.png\t1\nimgs/missing.png\t2\n")
    recording = RecordingStore(store)
    with pytest.raises(InvalidDataset) as caught:
        publish_dataset(recording, dataset, name="pinball")
    assert caught.value.exit_code == 2 and "train.txt:2" in str(caught.value)
    assert str(caught.value).endswith("pass --skip-bad to drop bad lines")  # a bad line: skipping is a way out
    assert recording.sent == []
    version = publish_dataset(recording, dataset, name="pinball", skip_bad=True)
    assert version.counts["skipped"] == 1 and version.counts["train"] == 1


@pytest.mark.parametrize("name", ["", "has space", "../up", "-dash"])
def test_bad_names_are_refused(tmp_path, dataset, name):
    with pytest.raises(BadInput):
        publish_dataset(LocalStore(tmp_path / "store"), dataset, name=name)


def test_fetch_through_a_file_uri_store(tmp_path, dataset):
    """The trainer opens ``file://.../datasets/<name>/versions/<id>`` with storage.store_at."""
    version = publish_dataset(LocalStore(tmp_path / "store"), dataset, name="pinball")
    store, key = store_at(version.uri)
    local = fetch_dataset(store, key, tmp_path / "fetched")
    assert local.version == version.uri
    assert local.train_labels.read_text() == (dataset / "train.txt").read_text()


def test_crlf_labels_are_fetched_with_lf(tmp_path, dataset):
    (dataset / "train.txt").write_bytes((dataset / "train.txt").read_bytes().replace(b"\n", b"\r\n"))
    store = LocalStore(tmp_path / "store")
    local = fetch_dataset(store, publish_dataset(store, dataset, name="pinball").key, tmp_path / "fetched")
    assert b"\r" not in local.train_labels.read_bytes()


def test_a_file_changed_after_validation_stops_the_upload(tmp_path, dataset):
    from ocrbatch.datasets import validate_dataset

    report = validate_dataset(dataset)
    (dataset / "imgs" / "0004.png").write_bytes(image_bytes(404))
    store = LocalStore(tmp_path / "store")
    with pytest.raises(BadInput, match="0004.png changed during the upload"):
        publish_dataset(store, dataset, name="pinball", report=report)
    assert list_versions(store) == []


def test_detection_dataset_round_trip(tmp_path):
    folder = make_dataset(tmp_path / "det", det=True)
    store = LocalStore(tmp_path / "store")
    version = publish_dataset(store, folder, name="frames")
    assert version.task == "det" and version.counts["boxes"] == 11
    local = fetch_dataset(store, "frames", tmp_path / "fetched")
    assert local.task == "det"
    first = local.train_labels.read_text().splitlines()[0].split("\t")
    assert json.loads(first[1])[0]["points"] == [[1, 1], [10, 1], [10, 7], [1, 7]]
    assert (local.root / first[0]).read_bytes() == (folder / first[0]).read_bytes()


def test_upload_and_fetch_report_progress_as_bytes_move(tmp_path, moto_store):
    # Three incompressible images (~1.5 MB each) travel in one shard: progress must move while that
    # shard is on the wire, not jump from 0 to done when it has arrived.
    import os

    from PIL import Image

    folder = tmp_path / "noisy"
    (folder / "imgs").mkdir(parents=True)
    for number in range(3):
        Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3)).save(folder / "imgs" / f"{number}.png")
    (folder / "train.txt").write_text("imgs/0.png\t120\nimgs/1.png\t4,500\n", encoding="utf-8")
    (folder / "val.txt").write_text("imgs/2.png\t78\n", encoding="utf-8")

    calls: list[tuple[str, int, int]] = []
    version = publish_dataset(moto_store, folder, name="noisy", progress=lambda *call: calls.append(call))
    fetch_dataset(moto_store, version.key, tmp_path / "copy", progress=lambda *call: calls.append(call))

    for stage in ("uploading", "downloading"):
        seen = [(done, total) for name, done, total in calls if name == stage]
        dones = [done for done, _ in seen]
        total = seen[-1][1]
        assert len(seen) > 3, (stage, seen)
        assert dones == sorted(dones) and dones[-1] == total and all(t == total for _, t in seen), (stage, seen)
