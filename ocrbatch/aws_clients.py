"""The one place that builds boto3 clients.

Services never call this themselves: the CLI builds clients here and injects them. Profile and
region come from flags or the usual AWS_PROFILE / AWS_REGION; AWS_ENDPOINT_URL (and the per-service
AWS_ENDPOINT_URL_<SERVICE>) are honoured by botocore itself, which is how MinIO/LocalStack-style
endpoints and the loopback servers of the tests are reached. Throttling and transient errors are
retried by botocore's adaptive mode, which also slows the client down when AWS says so.
"""

from __future__ import annotations

import os
from functools import lru_cache

DEFAULT_REGION = "us-west-2"


def _retry_config():
    from botocore.config import Config

    return Config(
        retries={"mode": "adaptive", "max_attempts": 10},
        connect_timeout=10,
        read_timeout=60,
        max_pool_connections=64,
    )


@lru_cache(maxsize=None)
def session(profile: str | None = None, region: str | None = None):
    import boto3

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    return boto3.session.Session(profile_name=profile or None, region_name=region)


def make_client(service: str, *, profile: str | None = None, region: str | None = None):
    return session(profile, region).client(service, config=_retry_config())
