"""The one place that builds AWS clients.

Services never call this themselves: ``ocrbatch.wiring`` (for the CLI) and the trainer's entry point
build clients here and inject them. Profile and
region come from flags or the usual AWS_PROFILE / AWS_REGION; AWS_ENDPOINT_URL (and the per-service
AWS_ENDPOINT_URL_<SERVICE>) are honoured by botocore itself, which is how MinIO/LocalStack-style
endpoints and the loopback servers of the tests are reached. Throttling and transient errors are
retried by botocore's adaptive mode, which also slows the client down when AWS says so; a refused
connection is not retried (nothing listens there: the command says so at once), and an endpoint
that stays silent is tried three times in all, as AWS's standard retry mode does, not ten: the
control-plane services answer in milliseconds, so their reads give up after 20 s (S3, which
streams large objects over slow links, keeps botocore's 60 s). A command against a silent endpoint
then fails in about a minute naming it, instead of ten minutes without a word.

Clients come from botocore directly: boto3's session is a thin wrapper whose import (it pulls in
s3transfer and its resource layer) costs ~40 ms on every command, and nothing here uses resources.

A command with a deadline (``monitor --timeout``) gives :class:`AwsClients` the time it has left: a
client asked for when less is left than its read timeout is built with timeouts no longer than that
(clients cost ~7 ms to build), and no call is retried once it is up. A call the command let go of
at its deadline (a silent endpoint) then ends on its own a few seconds later, instead of waiting
out botocore's 60 s reads and their retries.
"""

from __future__ import annotations

import math
import os
import threading
from functools import cached_property, lru_cache
from typing import Callable

from ocrbatch.stack_outputs import DEFAULT_REGION

CONNECT_TIMEOUT_S = 10
S3_READ_TIMEOUT_S = 60
CONTROL_READ_TIMEOUT_S = 20
SILENT_ATTEMPTS = 3  # tries of a call whose endpoint does not answer (connect or read timeout)
SHORTEST_TIMEOUT_S = 1.0  # what a call begun on its deadline still gets (0 would mean no timeout)


def read_timeout_of(service: str) -> float:
    return S3_READ_TIMEOUT_S if service == "s3" else CONTROL_READ_TIMEOUT_S


def _retry_config(service: str, bound: float | None = None):
    """The clients' settings; ``bound``: no connect or read may take longer (seconds)."""
    from botocore.config import Config

    read_timeout = read_timeout_of(service)
    return Config(
        retries={"mode": "adaptive", "max_attempts": 10},
        connect_timeout=min(CONNECT_TIMEOUT_S, bound or CONNECT_TIMEOUT_S),
        read_timeout=min(read_timeout, bound or read_timeout),
        max_pool_connections=64,
    )


def transfer_config():
    """How files move to and from S3: s3transfer's 8 MiB parts, 10 at a time per file, which fits
    the client's pool of 64 connections even with fetch's 4 shards in flight at once. A function,
    so that s3transfer (~40 ms of imports) loads only when a file moves."""
    from s3transfer.manager import TransferConfig

    return TransferConfig(multipart_threshold=8 * 2**20, multipart_chunksize=8 * 2**20, max_request_concurrency=10)


@lru_cache(maxsize=None)
def session(profile: str | None = None, region: str | None = None):
    """A botocore session for the profile, with its region settled (flag, environment, profile, default)."""
    import botocore.session

    chosen = botocore.session.Session(profile=profile or None)
    if profile:
        chosen.get_scoped_config()  # an unknown profile fails here (ProfileNotFound), not mid-command
    region = (
        region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or chosen.get_config_variable("region")
        or DEFAULT_REGION
    )
    chosen.set_config_variable("region", region)
    return chosen


def region_of(profile: str | None = None, region: str | None = None) -> str:
    return session(profile, region).get_config_variable("region")


def make_client(service: str, *, profile: str | None = None, region: str | None = None,
                time_left: Callable[[], float | None] | None = None):
    """A client of the service; with ``time_left`` (seconds until the command's deadline, None for
    none), its timeouts are bounded by the time left now and it stops retrying once none is left."""
    chosen = session(profile, region)
    left = time_left() if time_left else None
    bound = None if left is None else max(left, SHORTEST_TIMEOUT_S)
    client = chosen.create_client(service, region_name=chosen.get_config_variable("region"),
                                  config=_retry_config(service, bound))
    client.meta.events.register_first("needs-retry", _no_retry_when_refused)
    client.meta.events.register_first("needs-retry", _few_retries_when_silent)
    if time_left is not None:
        client.meta.events.register_first("needs-retry", _no_retry_after_the_deadline(time_left))
    return client


def connection_refused(exc: BaseException | None) -> bool:
    """Nothing listens at the endpoint: an answer, not a hiccup (the error or anything it wraps)."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        pending += [(getattr(current, "kwargs", None) or {}).get("error"), current.__cause__, current.__context__]
    return False


def _no_retry_when_refused(caught_exception=None, **_):
    """botocore retries a refused connection for ~25 s (10 attempts, backing off); retrying rarely
    helps, and the user waits for nothing. Raising here ends the call at once with that error."""
    if caught_exception is not None and connection_refused(caught_exception):
        raise caught_exception


def _few_retries_when_silent(caught_exception=None, attempts: int = 1, **_):
    """A connect or read that timed out is tried SILENT_ATTEMPTS times in all (botocore: up to the
    ten that throttling gets)."""
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    if isinstance(caught_exception, (ConnectTimeoutError, ReadTimeoutError)) and attempts >= SILENT_ATTEMPTS:
        raise caught_exception


def _no_retry_after_the_deadline(time_left: Callable[[], float | None]):
    def handler(caught_exception=None, **_):
        """A network error once the command's time is up ends the call: nobody waits for its answer.
        (A throttled answer is left to botocore: its back-off is short and the call can still end.)"""
        left = time_left()
        if caught_exception is not None and left is not None and left <= 0:
            raise caught_exception

    return handler


class AwsClients:
    """The clients of one profile and region, each built on its first use and then reused.

    A command pays only for the services it touches: ``cancel`` builds Batch's client alone, an
    unchanged re-upload none at all. With ``time_left`` (seconds until the command's deadline, or
    None while it has none), a client asked for when less time is left than its timeouts allow is
    built again, bounded by what is left.
    """

    def __init__(self, profile: str | None = None, region: str | None = None, *,
                 time_left: Callable[[], float | None] | None = None):
        self.profile = profile
        self._region = region
        self._time_left = time_left
        self._built: dict[str, object] = {}
        self._bounded: dict[str, tuple[float, object]] = {}  # service -> (timeout bound, client)
        self._lock = threading.Lock()  # fetch's download threads may all ask at once

    @cached_property
    def region(self) -> str:
        return region_of(self.profile, self._region)

    def __call__(self, service: str):
        left = self._time_left() if self._time_left else None
        if left is not None and left < read_timeout_of(service):
            return self._bounded_client(service, max(left, SHORTEST_TIMEOUT_S))
        client = self._built.get(service)
        if client is None:
            with self._lock:
                client = self._built.get(service)
                if client is None:
                    client = self._built[service] = make_client(service, profile=self.profile, region=self.region,
                                                                time_left=self._time_left)
        return client

    def _bounded_client(self, service: str, left: float):
        """A client whose timeouts end within ``left`` seconds (give or take one: rebuilt once a second at most)."""
        with self._lock:
            bound, client = self._bounded.get(service, (math.inf, None))
            if client is None or bound > left + 1:
                client = make_client(service, profile=self.profile, region=self.region, time_left=self._time_left)
                self._bounded[service] = (left, client)
        return client
