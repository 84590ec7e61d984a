"""Uploads interrupted at random points, readers racing them, and two uploads of one folder at once."""

from __future__ import annotations

import random
import threading

import pytest

from ocrbatch.datasets import fetch_dataset, list_versions, publish_dataset
from ocrbatch.storage import LocalStore

from .conftest import FIGURES
from .test_transient_faults import make_dataset

SHARD_BYTES = 40_000  # small shards, so an upload has many points to be interrupted at


class Interrupted(BaseException):  # like a kill: nothing may catch and rename it
    pass


class DyingStore:
    """Delegates to a real store and 'loses the machine' on the Nth write."""

    def __init__(self, inner, die_at: int | None):
        self.inner = inner
        self.die_at = die_at
        self.writes = 0

    def _write(self):
        self.writes += 1
        if self.die_at is not None and self.writes > self.die_at:
            raise Interrupted(f"killed at write {self.writes}")

    def put_file(self, key, path, progress=None):
        self._write()
        self.inner.put_file(key, path, progress)

    def put_bytes(self, key, data):
        self._write()
        self.inner.put_bytes(key, data)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    make_dataset(folder, 120, seed=5)
    return folder


def test_random_interruptions_then_rerun(tmp_path, dataset, monkeypatch):
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    counter = DyingStore(LocalStore(tmp_path / "count"), None)
    publish_dataset(counter, dataset, name="d", shard_bytes=SHARD_BYTES)
    total_writes = counter.writes
    assert total_writes > 5

    rng = random.Random(11)
    drills = 12
    for drill in range(drills):
        store = LocalStore(tmp_path / f"s{drill}")
        die_at = rng.randrange(total_writes)
        with pytest.raises(Interrupted):
            publish_dataset(DyingStore(store, die_at), dataset, name="d", shard_bytes=SHARD_BYTES)
        assert list_versions(store) == [], "a version became visible before its upload finished"
        rerun = DyingStore(store, None)
        version = publish_dataset(rerun, dataset, name="d", shard_bytes=SHARD_BYTES)
        fetched = fetch_dataset(store, version.key, tmp_path / f"f{drill}")
        assert (fetched.root / "images/00007.png").read_bytes() == (dataset / "images/00007.png").read_bytes()
        # The rerun sends only what the interrupted attempt had not: never more than a full upload.
        assert rerun.writes <= total_writes
    FIGURES["interrupted uploads"] = {"drills": drills, "writes_per_upload": total_writes, "partial_versions_seen": 0}


def test_readers_never_see_a_partial_version(tmp_path, dataset, monkeypatch):
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    store = LocalStore(tmp_path / "store")
    done = threading.Event()
    seen, failures = [], []

    def reader():
        while not done.is_set():
            for version in list_versions(store):
                try:
                    fetch_dataset(store, version.key, tmp_path / f"r{len(seen)}")
                    seen.append(version.version_id)
                except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
                    failures.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        publish_dataset(store, dataset, name="d", shard_bytes=SHARD_BYTES)
    finally:
        done.set()
        thread.join()
    assert failures == []


def test_two_concurrent_uploads_of_one_folder_agree(tmp_path, dataset, monkeypatch):
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    store = LocalStore(tmp_path / "store")
    results, errors = [], []

    def upload():
        try:
            results.append(publish_dataset(store, dataset, name="d", shard_bytes=SHARD_BYTES))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({version.version_id for version in results}) == 1
    assert len(list_versions(store)) == 1
    fetched = fetch_dataset(store, results[0].key, tmp_path / "f")
    assert sorted(p.name for p in (fetched.root / "images").iterdir()) == sorted(
        p.name for p in (dataset / "images").iterdir()
    )
