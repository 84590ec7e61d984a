"""A sweep on AWS Batch: one array job against moto (children, indexes, the manifest in S3), seen
through monitor, list, results and download --best; cancel with botocore's Stubber."""

import json
from dataclasses import replace

import boto3
import pytest
from botocore.stub import Stubber

from ocrbatch import aws_clients
from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.aws_batch import AwsBatchBackend, job_info
from ocrbatch.jobs.stack import discover_stack
from ocrbatch.layout import RunLayout, SweepLayout
from ocrbatch.storage import S3Store
from tests.cli_runner import run
from tests.jobs_fakes import REGION, publish_fake_model


def counting_submits(monkeypatch) -> list:
    """Every SubmitJob call any client of this test makes."""
    calls = []
    original = aws_clients.make_client

    def make_client(service, **kwargs):
        made = original(service, **kwargs)
        if service == "batch":
            made.meta.events.register("provide-client-params.batch.SubmitJob", lambda params, **_: calls.append(dict(params)))
        return made

    monkeypatch.setattr(aws_clients, "make_client", make_client)
    return calls


def test_a_sweep_is_one_array_job_whose_children_each_train_their_own_run(deployment, catalogue, monkeypatch, tmp_path):
    submits = counting_submits(monkeypatch)
    result = run("sweep", "--aws", "--dataset", "pinball@v1", "--epochs", "3",
                 "--grid", "learning-rate=0.001,0.003,0.01", "--grid", "Global.use_amp=true,false", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["size"] == 6 and out["method"] == "grid"
    assert len(submits) == 1
    call = submits[0]
    assert call["arrayProperties"] == {"size": 6}
    assert call["jobQueue"] == deployment[keys.GPU_QUEUE]
    env = {item["name"]: item["value"] for item in call["containerOverrides"]["environment"]}
    assert env["OCRBATCH_SWEEP"] == out["manifest"] and env["OCRBATCH_EPOCHS"] == "3"

    bucket = deployment[keys.BUCKET]
    store = S3Store(boto3.client("s3", region_name=REGION), bucket)
    manifest = json.loads(store.get_bytes(SweepLayout(out["sweep_id"]).manifest))
    assert manifest["job_id"] == out["job_id"] and manifest["size"] == 6
    assert [c["settings"] for c in manifest["children"][:2]] == [
        {"learning-rate": 0.001, "Global.use_amp": "true"}, {"learning-rate": 0.001, "Global.use_amp": "false"}]

    # moto runs no container: publish what each child's trainer would, in its own run folder.
    accuracies = [0.81, 0.84, 0.90, 0.93, 0.88, 0.79]
    for index, accuracy in enumerate(accuracies):
        publish_fake_model(store, SweepLayout(out["sweep_id"]).child(index).prefix, tmp_path, accuracy=accuracy)

    batch = boto3.client("batch", region_name=REGION)
    child = job_info(batch.describe_jobs(jobs=[f"{out['job_id']}:3"])["jobs"][0])
    assert child.array_index == 3 and child.output == store.uri(RunLayout(f"{out['sweep_id']}-3").prefix)

    ranked = json.loads(run("sweep", "results", out["job_id"], "--aws", "--json").stdout)
    assert [row["index"] for row in ranked["children"]] == [3, 2, 4, 1, 0, 5]
    assert ranked["children"][0]["settings"] == {"learning-rate": 0.003, "Global.use_amp": "false"}
    assert ranked["best"]["accuracy"] == 0.93 and ranked["counts"] == {"SUCCEEDED": 6}
    table = run("sweep", "results", out["job_id"], "--aws").stdout.splitlines()
    assert table[1].split()[:4] == ["1", f"{out['job_id']}:3", "SUCCEEDED", "93.0%"]

    monitored = run("monitor", out["job_id"], "--aws")
    assert monitored.exit_code == 0, monitored.stderr
    assert "sweep of 6" in monitored.stdout and "6 SUCCEEDED" in monitored.stdout
    assert f"best: child 3 ({out['job_id']}:3) 93.0%" in monitored.stdout
    per_child = json.loads(run("monitor", out["job_id"], "--aws", "--json").stdout)
    assert [c["index"] for c in per_child["children"]] == list(range(6))

    listed = json.loads(run("list", "--aws", "--json").stdout)["jobs"]
    assert [(row["job_id"], row["sweep_size"], row["accuracy"]) for row in listed] == [(out["job_id"], 6, 0.93)]
    expanded = json.loads(run("list", out["job_id"], "--aws", "--json").stdout)["jobs"][0]
    assert [c["job_id"] for c in expanded["children"]] == [f"{out['job_id']}:{i}" for i in range(6)]

    refused = run("download", out["job_id"], "--aws", "--output-dir", tmp_path / "m")
    assert refused.exit_code == 2 and "--best" in refused.stderr
    best = json.loads(run("download", out["job_id"], "--aws", "--best", "--output-dir", tmp_path / "m", "--json").stdout)
    assert best["job_id"] == f"{out['job_id']}:3" and best["accuracy"] == 0.93 and best["verified"]

    assert run("logs", out["job_id"], "--aws").exit_code == 2  # a sweep's logs are its children's
    child_log = json.loads(run("logs", f"{out['job_id']}:4", "--aws", "--json").stdout)
    assert child_log["job_id"] == f"{out['job_id']}:4" and child_log["status"] == "SUCCEEDED"


def test_a_one_child_sweep_is_a_plain_job_that_trains_as_child_0(deployment, catalogue, monkeypatch):
    submits = counting_submits(monkeypatch)
    out = json.loads(run("sweep", "--aws", "--dataset", "pinball@v1", "--grid", "epochs=4", "--json").stdout)
    assert "arrayProperties" not in submits[0]  # Batch's arrays have 2 children at least
    backend = AwsBatchBackend(
        stack=discover_stack(boto3.client("cloudformation", region_name=REGION), region=REGION),
        batch=boto3.client("batch", region_name=REGION), s3=boto3.client("s3", region_name=REGION),
    )
    job = backend.describe(out["job_id"])
    assert not job.is_sweep and job.array_index == 0 and job.output.endswith(f"{out['sweep_id']}-0/")
    assert [child.job_id for child in backend.children(out["job_id"])] == [out["job_id"]]


def test_cancel_withdraws_waiting_children_and_terminates_running_ones(deployment):
    batch = boto3.client("batch", region_name=REGION)
    backend = AwsBatchBackend(
        stack=discover_stack(boto3.client("cloudformation", region_name=REGION), region=REGION), batch=batch
    )
    env = [{"name": "OCRBATCH_SWEEP", "value": "s3://b/runs/s1/sweep.json"}, {"name": "OCRBATCH_OUTPUT", "value": "s3://b/runs/s1/"}]
    parent = {"jobId": "p-1", "jobName": "sweep", "jobQueue": "q", "status": "PENDING", "startedAt": 1, "jobDefinition": "d",
              "container": {"environment": env}, "arrayProperties": {"size": 3, "statusSummary": {"RUNNING": 1, "RUNNABLE": 1, "SUCCEEDED": 1}}}
    summaries = [
        {"jobId": "p-1:0", "jobName": "sweep", "status": "SUCCEEDED", "arrayProperties": {"index": 0}},
        {"jobId": "p-1:1", "jobName": "sweep", "status": "RUNNING", "arrayProperties": {"index": 1}},
        {"jobId": "p-1:2", "jobName": "sweep", "status": "RUNNABLE", "arrayProperties": {"index": 2}},
    ]
    with Stubber(batch) as stub:
        stub.add_response("describe_jobs", {"jobs": [parent]}, {"jobs": ["p-1"]})
        stub.add_response("cancel_job", {}, {"jobId": "p-1", "reason": "enough"})
        stub.add_response("describe_jobs", {"jobs": [parent]}, {"jobs": ["p-1"]})
        stub.add_response("list_jobs", {"jobSummaryList": summaries}, {"arrayJobId": "p-1"})
        stub.add_response("terminate_job", {}, {"jobId": "p-1:1", "reason": "enough"})
        before = backend.cancel("p-1", "enough")
        stub.assert_no_pending_responses()
    assert before.is_sweep and before.child_counts == {"RUNNING": 1, "RUNNABLE": 1, "SUCCEEDED": 1}


def test_monitor_names_the_failed_children_and_why_and_exits_1(deployment, catalogue, monkeypatch):
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    out = json.loads(run("sweep", "--aws", "--dataset", "pinball@v1", "--grid", "epochs=1,2", "--json").stdout)
    result = run("monitor", out["job_id"], "--aws")
    assert result.exit_code == 1
    assert "2 FAILED" in result.stdout
    assert f"failed: child 0 ({out['job_id']}:0)" in result.stdout


class RunningSweep:
    """A backend whose sweep never ends: child 0 has trained to 61 % so far, child 1 waits."""

    name = "fake"

    def __init__(self, store):
        from ocrbatch.jobs.backend import JobInfo
        from ocrbatch.layout import child_location

        self.store = store
        sweep_folder = store.uri(SweepLayout("s1").prefix)
        manifest = {"sweep_id": "s1", "children": [{"index": 0, "settings": {"epochs": 1}}, {"index": 1, "settings": {"epochs": 2}}]}
        store.put_bytes(SweepLayout("s1").manifest, json.dumps(manifest).encode())
        store.put_bytes(SweepLayout("s1").child(0).progress, json.dumps({"best_accuracy": 0.61, "step": 40}).encode())
        self.parent = JobInfo(job_id="p-1", job_name="sweep", status="PENDING", output=sweep_folder, array_size=2,
                              sweep=store.uri(SweepLayout("s1").manifest), created_at=1.0)
        self.kids = [
            JobInfo(job_id=f"p-1:{i}", job_name="sweep", status=status, output=child_location(sweep_folder, i),
                    array_index=i, sweep=self.parent.sweep)
            for i, status in enumerate(("RUNNING", "RUNNABLE"))
        ]

    def describe(self, job_id):
        return self.parent if job_id == "p-1" else self.kids[int(job_id.split(":")[1])]

    def children(self, job_id):
        return list(self.kids)

    def list_jobs(self, *, limit=50):
        return [self.parent]


def test_monitor_of_a_running_sweep_shows_the_best_so_far_and_times_out_with_124(tmp_path, monkeypatch, clean_env):
    from tests.jobs_fakes import FakeClock

    from ocrbatch.cli import common as cli_common
    from ocrbatch.storage import LocalStore

    backend = RunningSweep(LocalStore(tmp_path / "store"))
    clock = FakeClock()
    monkeypatch.setattr(cli_common, "clock", clock)
    monkeypatch.setattr(cli_common, "sleep", clock.sleep)
    monkeypatch.setattr(cli_common, "open_backend", lambda target, deadline=None: backend)
    result = run("monitor", "p-1", "--local", "--timeout", "2m")
    assert result.exit_code == 124, result.stderr
    assert "1 RUNNABLE, 1 RUNNING; best so far 61.0% (child 0)" in result.stderr
    assert "stopped waiting after 120 s" in result.stderr and "ocrbatch monitor p-1" in result.stderr
    assert "best so far: child 0 (p-1:0) 61.0%  epochs=1" in result.stdout
    assert sum(clock.sleeps) <= 120

    once = json.loads(run("monitor", "p-1", "--local", "--once", "--json").stdout)
    assert once["counts"] == {"RUNNABLE": 1, "RUNNING": 1} and not once["done"]
    assert [c["accuracy_from"] for c in once["children"]] == ["progress", None]


def test_a_sweeps_parent_has_no_model_of_its_own(tmp_path):
    from ocrbatch.errors import BadInput
    from ocrbatch.jobs.runs import download_model
    from ocrbatch.storage import LocalStore

    backend = RunningSweep(LocalStore(tmp_path / "store"))
    parent = backend.parent.__class__(**{**backend.parent.__dict__, "status": "SUCCEEDED"})
    with pytest.raises(BadInput, match=r"is a sweep of 2: take its best child's model with `ocrbatch download p-1 --best"):
        download_model(backend, parent, tmp_path / "model")  # what `predict --model SWEEP` and `download` come to


def test_dry_run_shows_the_one_array_job_and_its_children_and_sends_nothing(deployment, catalogue, monkeypatch):
    submits = counting_submits(monkeypatch)
    result = run("sweep", "--aws", "--dataset", "pinball@v1", "--random", "5", "--seed", "3",
                 "--range", "learning-rate=0.0001:0.01:log", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["submit_job"]["arrayProperties"] == {"size": 5} and plan["seed"] == 3 and plan["method"] == "random"
    assert [child["index"] for child in plan["children"]] == list(range(5))
    assert submits == []
    store = S3Store(boto3.client("s3", region_name=REGION), deployment[keys.BUCKET])
    assert list(store.list("runs/")) == []  # no manifest either


def test_a_local_sweep_is_bounded_before_anything_is_written(tmp_path):
    from ocrbatch.errors import BadInput
    from ocrbatch.jobs import sweeps
    from ocrbatch.jobs.submission import TrainingOptions
    from ocrbatch.storage import LocalStore

    class LocalLike:
        name = "local"
        store = LocalStore(tmp_path / "store")

        def submit(self, request):
            pytest.fail("submitted")

    settings = sweeps.child_settings({"dropout": [f"0.{i:03d}" for i in range(101)]}, {}, random_count=None, seed=None)
    plan = sweeps.plan_sweep(LocalLike.store, LocalLike.store.uri("datasets/s/versions/v1"), TrainingOptions(), settings)
    with pytest.raises(BadInput, match="a local sweep runs at most 100 children"):
        sweeps.submit_sweep(LocalLike(), plan)
    assert not (tmp_path / "store" / "runs").exists()


class FinishedPricedSweep(RunningSweep):
    """The sweep above as an AWS one that has ended: child 0 cost $0.68 over 2.5 GPU-hours (kept in its
    cost.json), child 1 ran 1 GPU-hour on an instance nobody could price."""

    name = "aws"

    def __init__(self, store):
        super().__init__(store)
        self.parent = replace(self.parent, status="SUCCEEDED")
        self.kids = [replace(kid, status="SUCCEEDED") for kid in self.kids]
        kept = ({"gpu_hours": 2.5, "cost_usd": 0.68, "final": True, "note": None, "attempts": []},
                {"gpu_hours": 1.0, "cost_usd": None, "final": True, "note": None, "attempts": []})
        for index, cost in enumerate(kept):
            store.put_bytes(SweepLayout("s1").child(index).cost, json.dumps(cost).encode())


def test_monitor_of_an_ended_sweep_adds_up_what_its_children_cost(tmp_path, monkeypatch, clean_env):
    from ocrbatch.cli import common as cli_common
    from ocrbatch.storage import LocalStore

    backend = FinishedPricedSweep(LocalStore(tmp_path / "store"))
    monkeypatch.setattr(cli_common, "open_backend", lambda target, deadline=None: backend)
    result = run("monitor", "p-1", "--local")
    assert result.exit_code == 0, result.stderr
    assert "cost: $0.68 for 3.50 GPU-hours over 2 runs, 1 of them not priced" in result.stdout
    as_json = json.loads(run("monitor", "p-1", "--local", "--json").stdout)
    assert as_json["cost"] == {"runs": 2, "gpu_hours": 3.5, "cost_usd": 0.68, "unpriced_runs": 1, "final": True}


def test_a_local_sweep_says_it_costs_nothing(tmp_path, monkeypatch, clean_env):
    from ocrbatch.cli import common as cli_common
    from ocrbatch.storage import LocalStore

    backend = FinishedPricedSweep(LocalStore(tmp_path / "store"))
    backend.name = "local"
    monkeypatch.setattr(cli_common, "open_backend", lambda target, deadline=None: backend)
    result = run("monitor", "p-1", "--local")
    assert "cost: none (local run: no cloud GPU, no cost)" in result.stdout
