"""The instance records what it is (type, zone, lifecycle) and every job definition shows it to the
trainer read-only, so each attempt can be priced (``ocrbatch.host_facts``): the template, and the record
script run against a fake instance metadata service on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

from ocrbatch.host_facts import CONTAINER_DIR, FACTS_NAME, HOST_DIR, read_host_facts
from stacks.instance_setup import RECORD_PATH, RECORD_SCRIPT, cloud_config

METADATA = {
    "instance-id": "i-0abc", "instance-type": "g4dn.xlarge",
    "placement/availability-zone": "us-west-2b", "instance-life-cycle": "spot",
}


def test_every_job_definition_mounts_the_instance_record_read_only(platform):
    definitions = platform.resources("AWS::Batch::JobDefinition")
    assert definitions
    for definition in definitions.values():
        container = definition["Properties"]["ContainerProperties"]
        (volume,) = [v for v in container["Volumes"] if v.get("Host", {}).get("SourcePath") == HOST_DIR]
        (mount,) = [m for m in container["MountPoints"] if m["SourceVolume"] == volume["Name"]]
        assert mount == {"ContainerPath": CONTAINER_DIR, "ReadOnly": True, "SourceVolume": volume["Name"]}


def test_the_instance_writes_its_record_at_first_boot():
    config = yaml.safe_load(cloud_config())
    files = {f["path"]: f for f in config["write_files"]}
    assert files[RECORD_PATH]["content"] == RECORD_SCRIPT.read_text() and files[RECORD_PATH]["permissions"] == "0755"
    assert [RECORD_PATH] in config["runcmd"]
    # the script's default folder is the one the job definitions mount
    assert re.search(r"OCRBATCH_HOST_FACTS_DIR:-(\S+)}", RECORD_SCRIPT.read_text())[1] == HOST_DIR


class FakeImds:
    """IMDSv2: a token for a PUT with a TTL header, METADATA for GETs that carry it."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
                self._answer(200 if ok else 400, "token" if ok else "")

            def do_GET(self):
                key = self.path.removeprefix("/latest/meta-data/")
                known = self.headers.get("X-aws-ec2-metadata-token") == "token" and key in METADATA
                self._answer(200 if known else 404, METADATA.get(key, ""))

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def record(imds_url, folder):
    env = {**os.environ, "OCRBATCH_IMDS_ENDPOINT": imds_url, "OCRBATCH_HOST_FACTS_DIR": str(folder)}
    return subprocess.run(["bash", str(RECORD_SCRIPT)], env=env, capture_output=True, text=True, timeout=30)


def test_the_record_script_writes_what_the_trainer_reads(tmp_path):
    with FakeImds() as imds:
        result = record(imds.url, tmp_path / "facts")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "facts" / FACTS_NAME).read_text())["instance_type"] == "g4dn.xlarge"
    assert read_host_facts(tmp_path / "facts") == {
        "instance_id": "i-0abc", "instance_type": "g4dn.xlarge", "availability_zone": "us-west-2b", "lifecycle": "spot"}


def test_without_the_metadata_service_nothing_is_recorded_and_the_boot_goes_on(tmp_path):
    with FakeImds() as imds:
        gone = imds.url
    result = record(gone, tmp_path / "facts")
    assert result.returncode == 0 and "will not be priced" in result.stderr
    assert read_host_facts(tmp_path / "facts") is None
