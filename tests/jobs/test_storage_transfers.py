"""S3Store's file transfers: one TransferManager per store, its injected config, byte progress."""

import boto3
import pytest

from ocrbatch.storage import LocalStore, S3Store
from tests.jobs_fakes import REGION


@pytest.fixture
def bucket(moto_aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="ocrbatch-test", CreateBucketConfiguration={"LocationConstraint": REGION})
    return s3


def test_files_move_in_parts_with_progress_as_the_bytes_go(bucket, tmp_path):
    from s3transfer.manager import TransferConfig

    made = []

    def config():
        made.append(1)
        return TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)

    store = S3Store.deferred(lambda: bucket, "ocrbatch-test", transfer_config=config)
    data = bytes(range(256)) * (11 * 2**20 // 256)  # 11 MiB: three parts
    (tmp_path / "weights").write_bytes(data)

    sent, received = [], []
    store.put_file("runs/r/model/weights", tmp_path / "weights", progress=sent.append)
    store.get_file("runs/r/model/weights", tmp_path / "back", progress=received.append)
    store.put_file("runs/r/model/small", tmp_path / "weights")

    assert (tmp_path / "back").read_bytes() == data
    assert sum(sent) == sum(received) == len(data) and len(sent) > 1 and len(received) > 1
    assert made == [1]  # one manager for the store's life, configured once
    parts = bucket.head_object(Bucket="ocrbatch-test", Key="runs/r/model/weights", PartNumber=1)["PartsCount"]
    assert parts == 3


def test_a_local_store_reports_each_file_whole(tmp_path):
    store = LocalStore(tmp_path / "store")
    (tmp_path / "f").write_bytes(b"x" * 1000)
    sent, received = [], []
    store.put_file("k", tmp_path / "f", progress=sent.append)
    store.get_file("k", tmp_path / "g", progress=received.append)
    assert sent == received == [1000]
