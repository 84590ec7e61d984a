"""Fixtures for the cost tests: a Stubber'd EC2 client, a clock, and a moto deployment whose GPU queue
has real (managed) compute environments with instance types to price."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
import pytest

# --import-mode=importlib puts no test folder on sys.path: the moto deployment shared with the job
# tests lives in tests/jobs, this folder's doubles in pricing_fakes.py.
sys.path.insert(0, str(Path(__file__).parents[1] / "jobs"))
sys.path.insert(0, str(Path(__file__).parent))

from jobs_fakes import REGION, deploy_fake_stack  # noqa: E402
from pricing_fakes import ON_DEMAND_TYPES, SPOT_TYPES  # noqa: E402


class Clock:
    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "OCRBATCH_BACKEND", "OCRBATCH_STACK",
                 "OCRBATCH_DEBUG", "OCRBATCH_ON_DEMAND_PRICES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_REGION", REGION), ("AWS_DEFAULT_REGION", REGION),
                        ("OCRBATCH_HOME", str(tmp_path / "home"))):
        monkeypatch.setenv(name, value)


@pytest.fixture
def priced_deployment(aws_env):
    """The fake stack, with its GPU queue over a Spot and an on-demand managed environment."""
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}}):
        deployment = deploy_fake_stack()
        ec2 = boto3.client("ec2", region_name=REGION)
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="ce-service", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        profile = iam.create_instance_profile(InstanceProfileName="ce-instance")["InstanceProfile"]["Arn"]
        subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
        batch = boto3.client("batch", region_name=REGION)
        order = []
        for name, kind, types in (("spot", "SPOT", SPOT_TYPES), ("on-demand", "EC2", ON_DEMAND_TYPES)):
            arn = batch.create_compute_environment(
                computeEnvironmentName=f"priced-{name}", type="MANAGED", state="ENABLED", serviceRole=role,
                computeResources={"type": kind, "minvCpus": 0, "maxvCpus": 64, "instanceTypes": types,
                                  "subnets": [subnet], "securityGroupIds": [group], "instanceRole": profile},
            )["computeEnvironmentArn"]
            order.append({"order": len(order) + 1, "computeEnvironment": arn})
        from ocrbatch import stack_outputs as keys

        batch.update_job_queue(jobQueue=deployment[keys.GPU_QUEUE], computeEnvironmentOrder=order)
        yield deployment
