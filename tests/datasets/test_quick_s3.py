"""The client-free small read (``ocrbatch.quick_s3``) and the deferred S3 store that uses it.

The address it builds is checked against the one a real botocore client sends, so a change in
botocore's addressing shows up here rather than as silently slower (or failing) quick reads.
"""

from __future__ import annotations

import botocore.session
import pytest

from ocrbatch.datasets import publish_dataset
from ocrbatch.quick_s3 import object_url, quick_get, quick_list
from ocrbatch.storage import S3Store

KEY = "datasets/a b/ver~1/ü+manifest.json"


class Sent(Exception):
    pass


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
        "AWS_CA_BUNDLE",
        "AWS_S3_US_EAST_1_REGIONAL_ENDPOINT",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    return monkeypatch


def session_in(region: str):
    session = botocore.session.Session()
    session.set_config_variable("region", region)
    return session


def url_botocore_sends(session, bucket: str, key: str) -> str:
    client = session.create_client("s3", region_name=session.get_config_variable("region"))
    sent = []

    def capture(request, **_):
        sent.append(request.url)
        raise Sent

    client.meta.events.register("before-send.s3.GetObject", capture)
    with pytest.raises(Sent):
        client.get_object(Bucket=bucket, Key=key)
    return sent[0]


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "ap-southeast-2", "cn-north-1"])
def test_aws_address_is_the_one_botocore_uses(aws_env, region):
    session = session_in(region)
    assert object_url(session, "ocrbatch-data-123", KEY) == url_botocore_sends(session, "ocrbatch-data-123", KEY)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "http://[::1]:9000", "https://10.0.0.5"])
def test_ip_endpoint_address_is_the_one_botocore_uses(aws_env, endpoint):
    aws_env.setenv("AWS_ENDPOINT_URL", endpoint)
    session = session_in("us-east-1")
    assert object_url(session, "bench", KEY) == url_botocore_sends(session, "bench", KEY)


@pytest.mark.parametrize(
    "bucket, region, env, config",
    [
        ("my.dotted.bucket", "us-east-1", {}, ""),  # no virtual host under TLS
        ("ocrbatch-data", "us-gov-west-1", {}, ""),  # another partition
        ("ocrbatch-data", "us-east-1", {"AWS_USE_FIPS_ENDPOINT": "true"}, ""),
        ("ocrbatch-data", "us-east-1", {"AWS_ENDPOINT_URL": "http://minio.internal:9000"}, ""),  # named host
        ("ocrbatch-data", "us-east-1", {}, "[default]\ns3 =\n    addressing_style = path\n"),
        ("ocrbatch-data", "us-east-1", {}, "[default]\nendpoint_url = https://s3.example.com\n"),
        ("bucket--usw2-az1--x-s3", "us-west-2", {}, ""),  # S3 Express directory bucket
    ],
)
def test_unusual_setups_step_aside(aws_env, tmp_path, bucket, region, env, config):
    for name, value in env.items():
        aws_env.setenv(name, value)
    (tmp_path / "config").write_text(config)
    assert object_url(session_in(region), bucket, KEY) is None


def test_us_east_1_regional_setting_is_followed(aws_env):
    aws_env.setenv("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT", "regional")
    session = session_in("us-east-1")
    url = object_url(session, "ocrbatch-data", KEY)
    assert url.startswith("https://ocrbatch-data.s3.us-east-1.amazonaws.com/")
    assert url == url_botocore_sends(session, "ocrbatch-data", KEY)


def test_ignored_endpoint_settings_mean_aws(aws_env):
    aws_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    aws_env.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    session = session_in("eu-west-1")
    assert object_url(session, "ocrbatch-data", "k") == url_botocore_sends(session, "ocrbatch-data", "k")


@pytest.fixture
def server_session(s3_server, aws_env):
    for name, value in s3_server.items():
        aws_env.setenv(name, value)
    return session_in("us-east-1")


def test_reads_from_a_real_s3_server(server_store, server_session, s3_bucket):
    server_store.put_bytes(KEY, b'{"hello": 1}')
    assert quick_get(server_session, s3_bucket, KEY) == b'{"hello": 1}'
    assert quick_get(server_session, s3_bucket, KEY + ".missing") is None


def test_a_denied_read_is_no_answer(server_store, server_session, s3_bucket, aws_env):
    server_store.put_bytes(KEY, b"secret")
    aws_env.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    assert quick_get(session_in("us-east-1"), s3_bucket, KEY) is None


def test_unchanged_reupload_needs_no_client(dataset, server_store, server_session, s3_bucket):
    first = publish_dataset(server_store, dataset, name="quick")

    def no_client():
        raise AssertionError("built a client for an unchanged dataset")

    deferred = S3Store.deferred(
        no_client, s3_bucket,
        quick_get=lambda b, k: quick_get(server_session, b, k),
        quick_list=lambda b, p: quick_list(server_session, b, p),
    )
    again = publish_dataset(deferred, dataset, name="quick")
    assert again.reused and again.version_id == first.version_id and again.uploaded_bytes == 0


def test_quick_list_matches_the_client(dataset, server_store, server_session, s3_bucket):
    publish_dataset(server_store, dataset, name="listed", shard_bytes=600)
    for prefix in ("datasets/listed/", "datasets/listed/shards/", "datasets/none/"):
        expected = [(info.key, info.size) for info in server_store.list(prefix)]
        assert quick_list(server_session, s3_bucket, prefix) == expected


def test_without_a_quick_answer_the_client_is_built_once(dataset, server_store, s3_bucket):
    built = []

    def make_client():
        built.append(1)
        return server_store.client

    deferred = S3Store.deferred(make_client, s3_bucket, quick_get=lambda b, k: None)
    version = publish_dataset(deferred, dataset, name="slow-path")
    assert not version.reused and built == [1]
    assert publish_dataset(deferred, dataset, name="slow-path").reused and built == [1]


def test_quick_list_follows_continuation_tokens(server_store, server_session, s3_bucket):
    from concurrent.futures import ThreadPoolExecutor

    keys = [f"many/{number:05d}" for number in range(1005)]  # more than one page of 1,000
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: server_store.put_bytes(key, key.encode()), keys))
    assert quick_list(server_session, s3_bucket, "many/") == [(key, len(key)) for key in keys]
