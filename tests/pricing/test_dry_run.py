"""`submit --dry-run` prices the run before anything is submitted (moto for Batch and EC2)."""

import json

import boto3
import pytest

from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.backend import JobInfo, JobRequest
from ocrbatch.jobs.cost_estimate import measured_run
from ocrbatch.trainer.spec import TrainingSpec
from tests.cli_runner import run
from tests.pricing.pricing_fakes import REGION, FakeSpot


def submitted_jobs(deployment):
    return boto3.client("batch", region_name=REGION).list_jobs(
        jobQueue=deployment[keys.GPU_QUEUE], filters=[{"name": "AFTER_CREATED_AT", "values": ["0"]}])["jobSummaryList"]


def test_dry_run_prices_the_queue_s_types_for_max_hours_and_submits_nothing(priced_deployment, catalogue, tmp_path):
    result = run("submit", "--aws", "--dataset", "pinball@v1", "--max-hours", "2", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["submit_job"]["timeout"] == {"attemptDurationSeconds": 7200}
    cost = plan["estimate"]
    assert cost["hours"] == 2 and cost["hours_basis"] == "--max-hours" and cost["region"] == REGION
    assert [(t["instance_type"], t["lifecycle"]) for t in cost["instance_types"]] == [
        ("g4dn.xlarge", "spot"), ("g4dn.12xlarge", "spot"), ("g4dn.xlarge", "on-demand")]
    on_demand = {t["lifecycle"]: t["on_demand"] for t in cost["instance_types"] if t["instance_type"] == "g4dn.xlarge"}
    assert on_demand["on-demand"] == 0.526
    # moto's Spot prices are tiny; the dearest hour is g4dn.xlarge on demand, 0.526 $/h x 2 h
    assert cost["usd_per_hour_high"] == 0.526 and cost["usd_high"] == 1.05
    assert 0 < cost["usd_per_hour_low"] < 0.01 and cost["usd_low"] == 0.0  # to the cent
    assert submitted_jobs(priced_deployment) == []
    assert (tmp_path / "home" / "cache" / "spot-prices.json").is_file()  # the next command within minutes asks nothing


def test_the_human_dry_run_shows_the_table_and_the_range(priced_deployment, catalogue, monkeypatch):
    from ocrbatch.cli import common
    from ocrbatch.jobs.pricing import OnDemandPrices

    spot = FakeSpot(now={"g4dn.xlarge": {"us-west-2a": 0.1578, "us-west-2b": 0.21}, "g4dn.12xlarge": {"us-west-2a": 1.3}})
    monkeypatch.setattr(common, "open_prices", lambda target: (spot, OnDemandPrices({"g4dn.xlarge": 0.526}, REGION)))
    result = run("submit", "--aws", "--dataset", "pinball@v1", "--max-hours", "1.5", "--dry-run")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "g4dn.xlarge" in out and "0.1578-0.2100" in out and "0.526" in out
    assert "may cost: $0.24 to $1.95 ($0.1578 to $1.3000 per hour x 1.5 h)" in out  # 1.5 x 0.1578; 1.5 x 1.3


def test_without_max_hours_the_job_definition_s_timeout_bounds_the_hours(priced_deployment, catalogue):
    batch = boto3.client("batch", region_name=REGION)
    batch.register_job_definition(jobDefinitionName=priced_deployment[keys.GPU_JOB_DEFINITION], type="container",
                                  containerProperties={"image": "x", "resourceRequirements": [
                                      {"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "15000"}]},
                                  timeout={"attemptDurationSeconds": 4 * 3600})
    result = run("submit", "--aws", "--dataset", "pinball@v1", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    cost = json.loads(result.stdout)["estimate"]
    assert cost["hours"] == 4 and "timeout" in cost["hours_basis"]
    assert "timeout" not in json.loads(result.stdout)["submit_job"]


def test_a_local_dry_run_costs_nothing(clean_env, catalogue, monkeypatch, tmp_path):
    result = run("submit", "--local", "--dataset", "pinball@v1", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["estimate"]["note"] == "local run: no cloud GPU, no cost"


@pytest.mark.parametrize("args", [("--local", "--max-hours", "2"), ("--aws", "--max-hours", "0"),
                                  ("--aws", "--max-hours", "0.001")])
def test_a_bad_max_hours_is_refused_like_a_real_submit(priced_deployment, catalogue, args):
    for dry in (("--dry-run",), ()):
        result = run("submit", *args, "--dataset", "pinball@v1", *dry)
        assert result.exit_code == 2 and "--max-hours" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert submitted_jobs(priced_deployment) == []


def test_the_measured_run_must_have_trained_alike():
    spec = TrainingSpec(dataset="s3://b/datasets/d/versions/v1", output="s3://b/runs/new/", engine="builtin", epochs=20)
    request = JobRequest(job_name="n", spec=spec)
    jobs = [JobInfo(job_id=str(i), job_name="n", status=status, output=f"s3://b/runs/r{i}/")
            for i, status in enumerate(["RUNNING", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED"])]
    records = {
        "1": ({"run_id": "r1", "queue": "gpu", "gpus": 1, "spec": {**spec.to_json(), "batch_size": 64}}, {"epochs": 5, "train_seconds": 50}),
        "2": ({"run_id": "r2", "queue": "gpu", "gpus": 1, "spec": spec.to_json()}, {"epochs": 10, "train_seconds": 900.0}),
        "3": ({"run_id": "r3", "queue": "gpu", "gpus": 1, "spec": spec.to_json()}, {"epochs": 10, "train_seconds": 1.0}),
    }
    found = measured_run(jobs, request, lambda job: records.get(job.job_id))
    assert found == {"run_id": "r2", "epochs": 10, "train_seconds": 900.0}  # r1 used another batch size


def test_a_sweep_dry_run_adds_up_its_children_s_hours(priced_deployment, catalogue, monkeypatch):
    from ocrbatch.cli import common
    from ocrbatch.jobs.pricing import OnDemandPrices

    spot = FakeSpot(now={"g4dn.xlarge": {"us-west-2a": 0.2}, "g4dn.12xlarge": {"us-west-2a": 1.0}})
    monkeypatch.setattr(common, "open_prices", lambda target: (spot, OnDemandPrices({"g4dn.xlarge": 0.526}, REGION)))
    result = run("sweep", "--aws", "--dataset", "pinball@v1", "--grid", "learning-rate=0.01,0.02,0.05",
                 "--max-hours", "0.5", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["submit_job"]["timeout"] == {"attemptDurationSeconds": 1800}  # each child's attempt
    cost = document["estimate"]
    assert cost["hours"] == 1.5 and cost["hours_basis"].startswith("3 runs added up")
    assert (cost["usd_low"], cost["usd_high"]) == (0.3, 1.5)  # 1.5 h x 0.2 $/h; 1.5 h x 1.0 $/h
    assert submitted_jobs(priced_deployment) == []
