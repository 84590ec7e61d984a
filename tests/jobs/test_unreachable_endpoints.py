"""Commands against an AWS endpoint that refuses connections, or accepts them and never answers.

Real botocore clients over loopback sockets (127.0.0.1 only, closed by the tests): a refused
connection fails at once, naming the endpoint; ``monitor --timeout`` holds against a silent one.
"""

from __future__ import annotations

import re
import socket
import time

import pytest
from typer.testing import CliRunner

from ocrbatch import aws_clients
from ocrbatch.cli import app

runner = CliRunner()


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
