"""Uploads, fetches and downloads through a proxy that throttles or drops 20 % of S3 requests.

The data that arrives must be byte-identical to what was sent; the figures (requests, faults,
operations, bytes lost) are printed at the end of the run.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import pytest
from PIL import Image

from ocrbatch import artifact
from ocrbatch.datasets import fetch_dataset, publish_dataset
from ocrbatch.storage import S3Store

from .conftest import FIGURES, client_via


def make_dataset(folder: Path, count: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    (folder / "images").mkdir(parents=True)
    lines = []
    for index in range(count):
        pixels = bytes(rng.getrandbits(8) for _ in range(24 * 64 * 3))
        image = Image.frombytes("RGB", (64, 24), pixels)
        path = f"images/{index:05d}.png"
        image.save(folder / path)
        lines.append(f"{path}\t{rng.randint(0, 99999):,}")
    split = count * 9 // 10
    (folder / "train.txt").write_text("\n".join(lines[:split]) + "\n", encoding="utf-8")
    (folder / "val.txt").write_text("\n".join(lines[split:]) + "\n", encoding="utf-8")


def digest_tree(folder: Path, names) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in names}


@pytest.fixture
def faulty_s3(fault_proxy, aws_env):
    client = client_via(fault_proxy.url, "s3")
    bucket = f"faults-{random.randrange(1 << 30)}"
    # Bucket creation may itself be throttled; the client retries it like anything else.
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return S3Store(client, bucket), fault_proxy


def test_dataset_upload_and_fetch_survive_faults(tmp_path, faulty_s3, monkeypatch):
    monkeypatch.setenv("OCRBATCH_CACHE_DIR", str(tmp_path / "cache"))
    store, proxy = faulty_s3
    source = tmp_path / "data"
    make_dataset(source, 300)
    operations = 0

    version = publish_dataset(store, source, name="faulty")
    operations += 1
    again = publish_dataset(store, source, name="faulty")  # unchanged: nothing resent
    operations += 1
    assert again.version_id == version.version_id and again.uploaded_bytes == 0

    fetched = fetch_dataset(store, version.key, tmp_path / "fetched")
    operations += 1
    images = sorted(p.relative_to(source).as_posix() for p in (source / "images").iterdir())
    sent, arrived = digest_tree(source, images), digest_tree(fetched.root, images)
    lost = sum((source / name).stat().st_size for name in images if sent[name] != arrived.get(name))
    assert lost == 0
    assert proxy.counts["faults"] > 0, "the proxy injected no fault: the test proves nothing"
    FIGURES["S3 dataset upload+fetch @20% faults"] = {
        "requests": proxy.counts["requests"],
        "faults": proxy.counts["faults"],
        "resets": proxy.counts["fault_reset"],
        "throttles": proxy.counts["fault_throttle"],
        "operations_completed": operations,
        "bytes_lost": lost,
    }


def test_model_publish_and_download_survive_faults(tmp_path, faulty_s3):
    store, proxy = faulty_s3
    model = tmp_path / "model"
    model.mkdir()
    rng = random.Random(3)
    contents = {
        "inference.json": b'{"program": "x"}',
        "inference.pdiparams": bytes(rng.getrandbits(8) for _ in range(300_000)),
        "inference.yml": b"Global:\n  model_name: PP-OCRv5_mobile_rec\n",
        "metrics.json": b'{"accuracy": 0.99}',
    }
    for name, data in contents.items():
        (model / name).write_bytes(data)
    before = proxy.counts["requests"]
    artifact.publish_artifact(store, "runs/r1/model/", model)
    artifact.download_artifact(store, "runs/r1/model/", tmp_path / "downloaded")
    lost = sum(len(data) for name, data in contents.items() if (tmp_path / "downloaded" / name).read_bytes() != data)
    assert lost == 0
    FIGURES["S3 model publish+download @20% faults"] = {
        "requests": proxy.counts["requests"] - before,
        "faults": proxy.counts["faults"],
        "operations_completed": 2,
        "bytes_lost": lost,
    }
