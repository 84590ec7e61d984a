"""Drills on the dataset layer: concurrent fetches of different versions into one folder (repeated
until a mix would have shown), processes killed mid-fetch, and stored objects damaged, found by
``--verify`` and repaired by uploading again."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ocrbatch.datasets import fetch_dataset, publish_dataset
from ocrbatch.datasets.checks import verify_versions
from ocrbatch.datasets.fetch import MARKER_NAME
from ocrbatch.errors import OcrbatchError
from ocrbatch.storage import LocalStore, S3Store

from .conftest import FIGURES, FaultProxy, client_via
from .test_transient_faults import make_dataset

RACES = 25


def tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MARKER_NAME
    }


@pytest.fixture
def two_versions(tmp_path, monkeypatch):
    """Two versions of one dataset that differ in half their images and in their labels."""
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    store = LocalStore(tmp_path / "home" / "store")  # where `--local --home tmp_path/home` looks
    folder = tmp_path / "data"
    make_dataset(folder, 60, seed=1)
    first = publish_dataset(store, folder, name="d", shard_bytes=20_000)
    other = tmp_path / "other"
    make_dataset(other, 60, seed=9)
    for number in range(0, 60, 2):
        name = f"images/{number:05d}.png"
        (folder / name).write_bytes((other / name).read_bytes())
    (folder / "train.txt").write_text((folder / "train.txt").read_text().replace("\t", "\tv2 "))
    second = publish_dataset(store, folder, name="d", shard_bytes=20_000)
    expected = {}
    for version in (first, second):
        alone = tmp_path / f"alone-{version.version_id}"
        fetch_dataset(store, version.key, alone)
        expected[version.version_id] = tree(alone)
    assert expected[first.version_id] != expected[second.version_id]
    return store, first, second, expected


def test_concurrent_fetches_of_two_versions_into_one_folder_never_mix(tmp_path, two_versions):
    store, first, second, expected = two_versions
    outcomes = {first.version_id: 0, second.version_id: 0}
    for race in range(RACES):
        dest = tmp_path / f"race-{race}"
        if race % 2:  # half the races start from a folder already holding one of the versions
            fetch_dataset(store, first.key, dest)
        barrier = threading.Barrier(2)
        errors = []

        def fetch(version):
            barrier.wait()
            try:
                fetch_dataset(store, version.key, dest)
            except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
                errors.append(exc)

        threads = [threading.Thread(target=fetch, args=(v,)) for v in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        landed = json.loads((dest / MARKER_NAME).read_text())["version_id"]
        assert tree(dest) == expected[landed], f"race {race}: the folder mixes versions"
        outcomes[landed] += 1
    FIGURES["concurrent fetches into one folder"] = {"races": RACES, "mixed": 0, **{f"landed_{k[:6]}": v for k, v in outcomes.items()}}


def test_concurrent_fetch_commands_never_mix(tmp_path, two_versions):
    """The same race between two `ocrbatch fetch` processes (the issue's reproduction)."""
    store, first, second, expected = two_versions
    env = {**os.environ, "OCRBATCH_BACKEND": "local"}
    for race in range(4):
        dest = tmp_path / f"cli-{race}"
        commands = [
            subprocess.Popen(
                [sys.executable, "-m", "ocrbatch", "fetch", version.ref, str(dest), "--local", "--home", str(tmp_path / "home")],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            for version in (first, second)
        ]
        for command in commands:
            _, err = command.communicate(timeout=120)
            assert command.returncode == 0, err.decode()
        landed = json.loads((dest / MARKER_NAME).read_text())["version_id"]
        assert tree(dest) == expected[landed]


def test_a_fetch_killed_at_random_points_leaves_the_folder_whole(tmp_path, two_versions):
    store, first, second, expected = two_versions
    dest = tmp_path / "killed"
    fetch_dataset(store, first.key, dest)
    rng = random.Random(3)
    env = {**os.environ, "OCRBATCH_BACKEND": "local"}
    kills = 6
    for _ in range(kills):
        command = subprocess.Popen(
            [sys.executable, "-m", "ocrbatch", "fetch", second.ref, str(dest), "--local", "--home", str(tmp_path / "home")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 1.5))
        command.send_signal(signal.SIGKILL)
        command.wait()
        landed = json.loads((dest / MARKER_NAME).read_text())["version_id"]
        assert tree(dest) == expected[landed]  # one whole version, whichever it is
    fetch_dataset(store, second.key, dest)  # and the next fetch cleans up and completes
    assert tree(dest) == expected[second.version_id]
    assert [p.name for p in tmp_path.iterdir() if ".ocrbatch-" in p.name] == []
    FIGURES["fetches killed mid-way"] = {"kills": kills, "folders_left_mixed": 0}


def test_damage_found_by_verify_is_repaired_by_uploading_again(tmp_path, monkeypatch):
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    store = LocalStore(tmp_path / "store")
    folder = tmp_path / "data"
    make_dataset(folder, 80, seed=2)
    version = publish_dataset(store, folder, name="d", shard_bytes=20_000)
    shards = sorted((store.root / "datasets/d/shards").iterdir())
    chunks = sorted((store.root / "datasets/d/chunks").iterdir())
    shards[1].unlink()
    chunks[0].unlink()
    (store.root / f"datasets/d/versions/{version.version_id}/manifest.json").write_text("[]")
    assert [c.ok for c in verify_versions(store)] == [False]
    with pytest.raises(Exception) as caught:
        fetch_dataset(store, "d", tmp_path / "f")
    assert getattr(caught.value, "exit_code", None) == 3

    again = publish_dataset(store, folder, name="d", shard_bytes=20_000)
    assert again.repaired and again.version_id == version.version_id
    assert [c.ok for c in verify_versions(store)] == [True]
    fetched = fetch_dataset(store, "d", tmp_path / "f")
    assert fetched.train_labels.read_text() == (folder / "train.txt").read_text()
    FIGURES["store damage repaired"] = {"missing_shards": 1, "missing_chunks": 1, "broken_manifests": 1, "sent_to_repair": again.uploaded_bytes}


def test_a_bit_flipped_in_transit_is_refused_naming_the_shard(tmp_path, moto_server, aws_env, monkeypatch):
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    with FaultProxy(moto_server, rate=0.0) as proxy:
        client = client_via(proxy.url, "s3")
        bucket = f"flips-{random.randrange(1 << 30)}"
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        store = S3Store(client, bucket)
        folder = tmp_path / "data"
        make_dataset(folder, 40, seed=4)
        version = publish_dataset(store, folder, name="d")
        proxy.corrupt = "/shards/"
        with pytest.raises(OcrbatchError) as caught:
            fetch_dataset(store, version.key, tmp_path / "f")
    message = str(caught.value)
    assert caught.value.exit_code == 3 and "/shards/" in message and message.count("\n") == 0
    assert not (tmp_path / "f").exists() and proxy.counts["bit_flips"] >= 1
    FIGURES["bit flipped in transit"] = {"refused": 1, "named": "/shards/" in message, "error": type(caught.value).__name__}
