"""The store under the job role's policy: S3 answers 403 (not 404) for a missing key when the caller
may list only under datasets/ and runs/, and the trainer must still see "missing", not a crash."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ocrbatch.errors import NotFound
from ocrbatch.storage import S3Store

BUCKET = "pinball-ocr-training-training-data-123456789012"
KEY = "runs/run-1/model/manifest.json"


@pytest.fixture
def s3():
    client = boto3.client("s3", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def forbidden(stubber, method, **params):
    stubber.add_client_error(method, service_error_code="403", http_status_code=403, expected_params=params)


def listing(stubber, *keys):
    contents = [{"Key": k, "Size": 1} for k in keys]
    stubber.add_response(
        "list_objects_v2", {"Contents": contents} if contents else {}, {"Bucket": BUCKET, "Prefix": KEY, "MaxKeys": 1}
    )


def test_forbidden_head_of_a_missing_key_means_missing(s3):
    client, stubber = s3
    forbidden(stubber, "head_object", Bucket=BUCKET, Key=KEY)
    listing(stubber, KEY + ".tmp")  # a longer key with the same prefix is not the key
    assert S3Store(client, BUCKET).exists(KEY) is False


def test_forbidden_get_of_a_missing_key_is_not_found(s3):
    client, stubber = s3
    stubber.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
    listing(stubber)
    with pytest.raises(NotFound):
        S3Store(client, BUCKET).get_bytes(KEY)


def test_forbidden_head_of_an_existing_key_stays_an_error(s3):
    client, stubber = s3
    forbidden(stubber, "head_object", Bucket=BUCKET, Key=KEY)
    listing(stubber, KEY)
    with pytest.raises(ClientError):
        S3Store(client, BUCKET).exists(KEY)


def test_forbidden_listing_too_is_a_real_denial(s3):
    client, stubber = s3
    forbidden(stubber, "head_object", Bucket=BUCKET, Key="elsewhere/x")
    stubber.add_client_error("list_objects_v2", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(ClientError):
        S3Store(client, BUCKET).exists("elsewhere/x")


def test_plain_404_needs_no_listing(s3):
    client, stubber = s3
    stubber.add_client_error("head_object", service_error_code="404", http_status_code=404)
    assert S3Store(client, BUCKET).exists(KEY) is False
