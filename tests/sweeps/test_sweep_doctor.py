"""`doctor` asks IAM's policy simulator whether the caller may make a sweep's calls (botocore's Stubber:
moto has no simulator), and says who to ask when it cannot tell."""

import boto3
from botocore.stub import Stubber

from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.sweep_access import PROBE_SWEEP, check_sweep_access, principal_arn, sweep_calls
from tests.jobs_fakes import REGION

OUTPUTS = {keys.GPU_QUEUE: "pinball-gpu-queue", keys.GPU_JOB_DEFINITION: "pinball-gpu"}
USER = {"Arn": "arn:aws:iam::123456789012:user/ana", "Account": "123456789012"}


def simulated(stub, decisions: list[str]) -> None:
    calls = sweep_calls(partition="aws", region=REGION, account="123456789012", queue="pinball-gpu-queue",
                        definition="pinball-gpu", bucket="data")
    for (action, resource), decision in zip(calls, decisions):
        stub.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": [{"EvalActionName": action, "EvalResourceName": resource, "EvalDecision": decision}]},
            {"PolicySourceArn": USER["Arn"], "ActionNames": [action], "ResourceArns": [resource]},
        )


def test_the_calls_a_sweep_makes_are_simulated_on_this_stacks_resources():
    calls = sweep_calls(partition="aws", region=REGION, account="123456789012", queue="q", definition="d", bucket="data")
    assert ("batch:SubmitJob", "arn:aws:batch:us-west-2:123456789012:job-queue/q") in calls
    assert ("batch:SubmitJob", "arn:aws:batch:us-west-2:123456789012:job-definition/d") in calls
    assert ("s3:PutObject", f"arn:aws:s3:::data/{PROBE_SWEEP.manifest}") in calls
    assert {"batch:ListJobs", "batch:CancelJob", "batch:TerminateJob"} <= {action for action, _ in calls}


def test_allowed_denied_and_unknown():
    iam = boto3.client("iam", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(iam) as stub:
        simulated(stub, ["allowed"] * 6)
        check = check_sweep_access(iam, USER, REGION, OUTPUTS, "data")
    assert check.status == "ok"
    with Stubber(iam) as stub:
        simulated(stub, ["allowed", "allowed", "implicitDeny", "allowed", "allowed", "explicitDeny"])
        check = check_sweep_access(iam, USER, REGION, OUTPUTS, "data")
    assert check.status == "fail"
    assert "s3:PutObject on arn:aws:s3:::data/runs/doctor-probe-sweep/sweep.json" in check.detail
    assert "batch:TerminateJob" in check.detail and "CliUserPolicyArn" in check.detail
    with Stubber(iam) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", "not allowed")
        check = check_sweep_access(iam, USER, REGION, OUTPUTS, "data")
    assert check.status == "warn" and "iam:SimulatePrincipalPolicy" in check.detail


def test_who_is_simulated():
    assert principal_arn("arn:aws:iam::123456789012:user/ana") == "arn:aws:iam::123456789012:user/ana"
    session = "arn:aws:sts::123456789012:assumed-role/ci-runner/build-42"
    assert principal_arn(session) == "arn:aws:iam::123456789012:role/ci-runner"
    assert principal_arn("arn:aws:iam::123456789012:root") is None
    check = check_sweep_access(None, {"Arn": "arn:aws:iam::123456789012:root", "Account": "123456789012"},
                                REGION, OUTPUTS, "data")
    assert check.status == "skip"
