"""Fixtures of the reliability suite: a fault-injecting proxy in front of a moto server, and a
figures table printed at the end of the run (requests, faults, operations, bytes lost, lost work).

The proxy sits on 127.0.0.1 between botocore and moto and, for a fraction of requests, answers
instead of the server: ``503 SlowDown`` (S3's throttle), ``429 TooManyRequestsException`` /
``ThrottlingException`` (Batch, Logs, CloudFormation), or drops the connection without an answer
(a reset). Everything else is forwarded byte for byte.
"""

from __future__ import annotations

import http.client
import random
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

FIGURES: dict[str, dict] = {}


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, figures in FIGURES.items():
        parts = ", ".join(f"{key}={value}" for key, value in figures.items())
        terminalreporter.write_line(f"{name}: {parts}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FaultProxy:
    """Forwards to ``upstream`` and injects a fault into ``rate`` of the requests."""

    def __init__(self, upstream_port: int, *, rate: float = 0.2, seed: int = 1):
        self.upstream_port = upstream_port
        self.rate = rate
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.pick_fault(self.headers)
                if fault == "reset":
                    # Close without answering: the client sees a dropped connection.
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault == "throttle":
                    self._answer_throttle()
                    return
                self._forward(body)

            def _answer_throttle(self):
                target = self.headers.get("X-Amz-Target", "")
                if self.path.startswith("/v1/") or target or "json" in self.headers.get("Content-Type", ""):
                    # JSON protocols (Batch REST-JSON, Logs JSON 1.1): throttling exception.
                    code = "TooManyRequestsException" if self.path.startswith("/v1/") else "ThrottlingException"
                    payload = ('{"__type": "%s", "message": "Rate exceeded"}' % code).encode()
                    status, ctype = 429, "application/json"
                    extra = {"x-amzn-ErrorType": code}
                elif "Action=" in self.path or self.headers.get("Content-Type", "").startswith(
                    "application/x-www-form-urlencoded"
                ):
                    payload = (
                        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                        b"<Message>Rate exceeded</Message></Error></ErrorResponse>"
                    )
                    status, ctype, extra = 400, "text/xml", {}
                else:
                    payload = (
                        b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code>"
                        b"<Message>Please reduce your request rate.</Message></Error>"
                    )
                    status, ctype, extra = 503, "application/xml", {}
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes):
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                if self.command == "GET" and proxy.corrupt and proxy.corrupt in self.path and data:
                    data = proxy.flip_a_bit(data)
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.port = _free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    corrupt: str | None = None  # GET answers whose path contains this get one bit flipped

    def flip_a_bit(self, data: bytes) -> bytes:
        with self.lock:
            self.counts["bit_flips"] += 1
        flipped = bytearray(data)
        flipped[len(flipped) // 2] ^= 0x10
        return bytes(flipped)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pick_fault(self, headers) -> str | None:
        with self.lock:
            self.counts["requests"] += 1
            roll = self.random.random()
            if roll >= self.rate:
                return None
            fault = "reset" if roll < self.rate / 3 else "throttle"
            self.counts[f"fault_{fault}"] += 1
            self.counts["faults"] += 1
            return fault

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield port
    server.stop()


@pytest.fixture
def fault_proxy(moto_server):
    with FaultProxy(moto_server, rate=0.2) as proxy:
        yield proxy


@pytest.fixture
def aws_env(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def client_via(proxy_url: str, service: str):
    """A client configured like the CLI's (adaptive retries) but pointed at the proxy."""
    import boto3
    from botocore.config import Config

    from ocrbatch.aws_clients import _retry_config

    config = _retry_config(service).merge(Config(retries={"mode": "adaptive", "max_attempts": 10}))
    return boto3.session.Session(region_name="us-west-2").client(service, endpoint_url=proxy_url, config=config)
