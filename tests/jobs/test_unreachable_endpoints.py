"""Commands against an AWS endpoint that refuses connections, or accepts them and never answers.

Real botocore clients over loopback sockets (127.0.0.1 only, closed by the tests): a refused
connection fails at once, naming the endpoint; ``monitor --timeout`` holds against a silent one, and
the call it let go of at the deadline ends within seconds (its timeouts are bounded by the time left).
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from ocrbatch import aws_clients
from ocrbatch.cli import app
from tests.cli_runner import runner


@pytest.fixture
def fresh_sessions():
    aws_clients.session.cache_clear()  # the endpoint variable is read when a session's client is made
    yield
    aws_clients.session.cache_clear()


@pytest.fixture
def refusing_endpoint(clean_env, fresh_sessions, monkeypatch) -> str:
    """The address of a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    return url


@pytest.fixture
def silent_endpoint(clean_env, fresh_sessions, monkeypatch):
    """A loopback port that accepts connections (the kernel does) and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    url = f"http://127.0.0.1:{server.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    yield url
    server.close()


def test_a_refused_connection_is_not_retried(refusing_endpoint):
    from botocore.exceptions import EndpointConnectionError

    batch = aws_clients.make_client("batch", region="us-west-2")
    started = time.monotonic()
    with pytest.raises(EndpointConnectionError) as failed:
        batch.describe_jobs(jobs=["job-1"])
    assert time.monotonic() - started < 10  # botocore alone retries for ~25 s; the bound leaves room for a busy machine
    assert aws_clients.connection_refused(failed.value)


@pytest.mark.parametrize("command", [["list", "--aws", "--job-queue", "q"], ["monitor", "job-1", "--aws"]])
def test_commands_fail_fast_naming_the_refusing_endpoint(refusing_endpoint, command):
    started = time.monotonic()
    result = runner.invoke(app, command)
    assert time.monotonic() - started < 15  # not botocore's ~25 s of retries
    assert result.exit_code == 3, result.output
    # On a busy machine the line also says how long it tried (" after 2 s").
    assert re.fullmatch(
        re.escape(f"error: cannot reach {refusing_endpoint} (connection refused)") + r"( after \d+ s)?"
        + re.escape(": check the network or proxy, the region (--region), and AWS_ENDPOINT_URL if you use one"),
        result.stderr.strip(),
    ), result.stderr


def test_monitor_timeout_holds_against_an_endpoint_that_never_answers(silent_endpoint):
    started = time.monotonic()
    result = runner.invoke(app, ["monitor", "job-1", "--aws", "--job-queue", "q", "--timeout", "2s"])
    waited = time.monotonic() - started
    assert result.exit_code == 124, result.output
    assert waited < 2 + 10  # the deadline, start-up and a busy machine; not a 60 s read, retried
    assert "stopped waiting after 2 s (--timeout) (no answer from AWS while looking the job up: check" in result.stderr


def test_the_call_let_go_at_the_timeout_ends_within_seconds_of_the_command(silent_endpoint):
    result = runner.invoke(app, ["monitor", "job-1", "--aws", "--job-queue", "q", "--timeout", "2s"])
    returned = time.monotonic()
    assert result.exit_code == 124, result.output
    # Botocore alone would read for 60 s, and retry: the abandoned call would outlive the command by minutes.
    abandoned = [thread for thread in threading.enumerate() if thread.name == "bounded-call"]
    for thread in abandoned:
        thread.join(timeout=max(0.0, returned + 8 - time.monotonic()))
    assert not any(thread.is_alive() for thread in abandoned), "a call let go at the deadline still runs"


def test_clients_for_a_deadline_bound_their_timeouts_by_the_time_left(clean_env, fresh_sessions):
    left = [300.0]
    clients = aws_clients.AwsClients(region="us-west-2", time_left=lambda: left[0])

    def timeouts(service="s3"):
        config = clients(service).meta.config
        return config.connect_timeout, config.read_timeout

    assert timeouts() == (10, 60) and timeouts("batch") == (10, 20)  # time enough: the usual ones
    left[0] = 30.0
    assert timeouts() == (10, 30.0) and timeouts("batch") == (10, 20)
    left[0] = 29.5
    assert timeouts() == (10, 30.0)  # within a second: the same client
    left[0] = 4.0
    assert timeouts() == (4.0, 4.0) and timeouts("batch") == (4.0, 4.0)
    left[0] = -2.0
    assert timeouts() == (1.0, 1.0)  # a call begun past the deadline still gets a moment, never "no timeout"
    assert aws_clients.AwsClients(region="us-west-2")("s3").meta.config.read_timeout == 60


def test_a_silent_endpoint_is_tried_three_times_not_ten(silent_endpoint, monkeypatch):
    from botocore.exceptions import ReadTimeoutError

    monkeypatch.setattr(aws_clients, "CONTROL_READ_TIMEOUT_S", 0.5)  # the real 20 s, shortened for the test
    batch = aws_clients.make_client("batch", region="us-west-2")
    sent = []
    batch.meta.events.register("before-send", lambda **_: sent.append(1))
    with pytest.raises(ReadTimeoutError):
        batch.describe_jobs(jobs=["job-1"])
    assert len(sent) == aws_clients.SILENT_ATTEMPTS == 3
