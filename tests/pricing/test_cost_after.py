"""What a finished run cost, as `monitor` and `list` show it: a job reclaimed once (two attempts on two
instances at two Spot prices, EC2 through a Stubber), kept in cost.json once the job has ended."""

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

from ocrbatch.cli import common as cli_common
from ocrbatch.jobs.backend import Attempt, JobInfo
from ocrbatch.jobs.job_report import snapshot
from ocrbatch.jobs.run_costs import job_cost
from ocrbatch.layout import RunLayout
from tests.cli_runner import run
from tests.jobs_fakes import RUN_ID, ScriptedBackend
from tests.pricing.pricing_fakes import REGION


T0 = 1_800_000_000.0
HOSTS = {"1": {"instance_id": "i-1", "instance_type": "g4dn.xlarge", "availability_zone": "us-west-2a", "lifecycle": "spot"},
         "2": {"instance_id": "i-2", "instance_type": "g4dn.2xlarge", "availability_zone": "us-west-2c", "lifecycle": "spot"}}


def reclaimed_job(status="SUCCEEDED"):
    return JobInfo(
        job_id="0b5e4c1a-0000-4000-8000-000000000001", job_name="pinball", status=status,
        created_at=T0 - 60, started_at=T0, stopped_at=T0 + 9600, output=f"s3://bucket/runs/{RUN_ID}/",
        attempts=(
            Attempt(started_at=T0, stopped_at=T0 + 5400, exit_code=None, reason="Host EC2 (instance i-1) terminated."),
            Attempt(started_at=T0 + 6000, stopped_at=T0 + 9600, exit_code=0, reason=None),
        ),
    )


def history(instance_type, zone, points):
    return {"SpotPriceHistory": [
        {"InstanceType": instance_type, "AvailabilityZone": zone, "SpotPrice": str(usd), "ProductDescription": "Linux/UNIX",
         "Timestamp": datetime.fromtimestamp(at, tz=timezone.utc)} for at, usd in points]}


class PricedBackend(ScriptedBackend):
    """The scripted backend as an AWS one: a region and a Stubber'd EC2 client."""

    name = "aws"

    def __init__(self, root, states, ec2):
        super().__init__(root, states)
        self.stack = SimpleNamespace(region=REGION)
        self.ec2 = ec2
        layout = RunLayout(RUN_ID)
        self.store.put_bytes(layout.run_spec, json.dumps({"run_id": RUN_ID, "queue": "gpu", "gpus": 1}).encode())
        self.store.put_bytes(layout.progress, json.dumps({"state": "succeeded", "attempt": 2, "hosts": HOSTS}).encode())


@pytest.fixture
def ec2():
    client = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        # attempt 1: 1 h at 0.20 $/h, then 0.5 h at 0.30 (the price rose before the reclaim): $0.35
        stub.add_response("describe_spot_price_history",
                          history("g4dn.xlarge", "us-west-2a", [(T0 - 100, 0.20), (T0 + 3600, 0.30)]),
                          {"InstanceTypes": ["g4dn.xlarge"], "AvailabilityZone": "us-west-2a",
                           "ProductDescriptions": ["Linux/UNIX"],
                           "StartTime": datetime.fromtimestamp(T0, tz=timezone.utc),
                           "EndTime": datetime.fromtimestamp(T0 + 5400, tz=timezone.utc)})
        # attempt 2: 1 h at 0.33 $/h
        stub.add_response("describe_spot_price_history", history("g4dn.2xlarge", "us-west-2c", [(T0 - 9999, 0.33)]))
        yield client, stub


def test_monitor_shows_each_attempt_at_its_own_price_and_the_cost_is_kept(tmp_path, monkeypatch, ec2):
    client, stub = ec2
    backend = PricedBackend(tmp_path / "store", [reclaimed_job()], client)
    monkeypatch.setattr(cli_common, "open_backend", lambda target, deadline=None: backend)

    result = run("monitor", "--aws", reclaimed_job().job_id, "--once", "--json")
    assert result.exit_code == 0, result.stderr
    cost = json.loads(result.stdout)["cost"]
    assert cost["final"] and cost["gpu_hours"] == 2.5 and cost["cost_usd"] == pytest.approx(0.68)
    assert [(a["instance_type"], a["hours"], a["usd"]) for a in cost["attempts"]] == [
        ("g4dn.xlarge", 1.5, 0.35), ("g4dn.2xlarge", 1.0, 0.33)]
    stub.assert_no_pending_responses()
    assert json.loads(backend.store.get_bytes(RunLayout(RUN_ID).cost)) == cost

    # Kept: later looks read cost.json and ask EC2 nothing (the Stubber has no response left).
    human = run("monitor", "--aws", reclaimed_job().job_id, "--once")
    assert ("cost: $0.68, 2.5 GPU-hours (attempt 1: 1.5 h on g4dn.xlarge spot in us-west-2a, $0.35; "
            "attempt 2: 1 h on g4dn.2xlarge spot in us-west-2c, $0.33)") in human.stdout
    listed = run("list", "--aws")
    assert listed.stdout.splitlines()[0].split()[-1] == "COST"
    assert listed.stdout.splitlines()[1].endswith("$0.68 (2.5 GPU-h)")
    as_json = json.loads(run("list", "--aws", "--json").stdout)["jobs"][0]
    assert as_json["gpu_hours"] == 2.5 and as_json["cost_usd"] == pytest.approx(0.68)


def test_a_running_job_is_priced_so_far_and_nothing_is_kept(tmp_path, ec2):
    client, stub = ec2
    finished = reclaimed_job()
    # Batch lists an attempt once it has ended: the retry running now has only the job's times, so it
    # counts from the reclaim (T0 + 5400) to now, 1 h.
    job = JobInfo(**{**finished.__dict__, "status": "RUNNING", "stopped_at": None, "attempts": finished.attempts[:1]})
    backend = PricedBackend(tmp_path / "store", [job], client)
    cost = job_cost(backend, job, now=T0 + 9000)
    assert not cost.final and cost.usd == pytest.approx(0.68) and cost.gpu_hours == 2.5
    assert not backend.store.exists(RunLayout(RUN_ID).cost)


def test_a_price_call_that_fails_leaves_the_cost_unknown_and_asks_again_later(tmp_path):
    client = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_client_error("describe_spot_price_history", "UnauthorizedOperation", "not allowed")
        stub.add_client_error("describe_spot_price_history", "UnauthorizedOperation", "not allowed")
        backend = PricedBackend(tmp_path / "store", [reclaimed_job()], client)
        data = snapshot(backend, reclaimed_job(), now=T0 + 9999)
    assert data["cost"]["cost_usd"] is None and data["cost"]["gpu_hours"] == 2.5
    assert "UnauthorizedOperation" in data["cost"]["attempts"][0]["priced_by"]
    assert not backend.store.exists(RunLayout(RUN_ID).cost)


def test_a_local_run_costs_nothing_and_says_so(tmp_path):
    backend = SimpleNamespace(name="local")
    cost = job_cost(backend, reclaimed_job(), now=T0)
    assert cost.gpu_hours == 0 and cost.usd is None and "local run" in cost.note
