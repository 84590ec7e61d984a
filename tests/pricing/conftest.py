"""The cost tests' moto deployment: the fake stack, its GPU queue over real (managed) compute environments
with instance types to price."""

from __future__ import annotations

import boto3
import pytest

from ocrbatch import stack_outputs as keys
from tests.jobs_fakes import REGION, FakeClock
from tests.pricing.pricing_fakes import ON_DEMAND_TYPES, SPOT_TYPES


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def priced_deployment(deployment):
    """The fake stack, with its GPU queue over a Spot and an on-demand managed environment."""
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
    batch.update_job_queue(jobQueue=deployment[keys.GPU_QUEUE], computeEnvironmentOrder=order)
    return deployment
