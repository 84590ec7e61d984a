"""Each construct alone in a bare stack, and the whole stack with every setting changed from its default."""

from __future__ import annotations

import cfnlint.api
import pytest
from aws_cdk import Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from ocrbatch import stack_outputs
from stacks.compute import BatchCompute
from stacks.jobs import TrainingJobs
from stacks.network import Network
from stacks.storage import TrainingData

from .conftest import EXISTING_VPC, new_app


def bare_stack() -> Stack:
    return Stack(new_app(), "Bare", env={"region": "us-west-2"})


def compute(**overrides) -> Template:
    stack = bare_stack()
    data = TrainingData(stack, "Data", destroy_on_delete=False)
    zones = ["us-west-2a", "us-west-2b"]
    network = Network(stack, "Net", availability_zones=zones, flow_log_bucket=data.log_bucket)
    settings = dict(
        prefix="t",
        vpc=network.vpc,
        subnets=network.subnets,
        gpu_instance_types=["g4dn.xlarge"],
        cpu_instance_types=["c5.large"],
        max_vcpus=16,
        max_on_demand_gpu_vcpus=4,
        use_spot=True,
        spot_bid_percentage=70,
        on_demand_gpu_fallback=True,
    )
    BatchCompute(stack, "Compute", **{**settings, **overrides})
    return Template.from_stack(stack)


def queue_types(template: Template, name: str) -> list[str]:
    (queue,) = template.find_resources("AWS::Batch::JobQueue", {"Properties": {"JobQueueName": name}}).values()
    environments = template.find_resources("AWS::Batch::ComputeEnvironment")
    order = sorted(queue["Properties"]["ComputeEnvironmentOrder"], key=lambda o: o["Order"])
    return [environments[o["ComputeEnvironment"]["Fn::GetAtt"][0]]["Properties"]["ComputeResources"]["Type"] for o in order]


def test_spot_with_fallback():
    template = compute()
    assert queue_types(template, "t-gpu-queue") == ["SPOT", "EC2"]
    assert queue_types(template, "t-cpu-queue") == ["SPOT"]
    template.has_resource_properties(
        "AWS::Batch::ComputeEnvironment",
        {"ComputeResources": Match.object_like({"Type": "SPOT", "BidPercentage": 70, "MaxvCpus": 16})},
    )


def test_spot_without_fallback():
    template = compute(on_demand_gpu_fallback=False)
    assert queue_types(template, "t-gpu-queue") == ["SPOT"]


@pytest.mark.parametrize("fallback", [True, False])
def test_no_spot_means_on_demand_everywhere(fallback):
    template = compute(use_spot=False, on_demand_gpu_fallback=fallback)
    assert queue_types(template, "t-gpu-queue") == ["EC2"]
    assert queue_types(template, "t-cpu-queue") == ["EC2"]
    template.all_resources_properties(
        "AWS::Batch::ComputeEnvironment",
        {
            "ComputeResources": Match.object_like(
                {"AllocationStrategy": "BEST_FIT_PROGRESSIVE", "BidPercentage": Match.absent()}
            )
        },
    )


def test_existing_network_selects_subnets_by_id_without_lookups():
    stack = bare_stack()
    data = TrainingData(stack, "Data", destroy_on_delete=False)
    network = Network(
        stack,
        "Net",
        availability_zones=[],
        flow_log_bucket=data.log_bucket,
        existing_vpc_id=EXISTING_VPC.vpc_id,
        existing_subnet_ids=EXISTING_VPC.subnet_ids,
    )
    assert network.vpc.vpc_id == EXISTING_VPC.vpc_id
    assert [s.subnet_id for s in network.subnets.subnets] == list(EXISTING_VPC.subnet_ids)
    Template.from_stack(stack).resource_count_is("AWS::EC2::VPC", 0)


def test_data_destroyed_with_the_stack_when_asked():
    stack = bare_stack()
    TrainingData(stack, "Data", destroy_on_delete=True)
    TrainingJobs(
        stack,
        "Jobs",
        prefix="t",
        image=ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.11-slim"),
        bucket_name="b",
        destroy_on_delete=True,
    )
    template = Template.from_stack(stack)
    for resource_type in ("AWS::S3::Bucket", "AWS::Logs::LogGroup"):
        for resource in template.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == "Delete"
    template.resource_count_is("Custom::S3AutoDeleteObjects", 2)


# --- the whole stack, every setting changed -----------------------------------------------------------


def test_variant_names_follow_prefix_and_region(variant_platform):
    template = variant_platform.template
    assert variant_platform.stack.stack_name == "acme-ocr-infrastructure"
    assert variant_platform.stack.region == "eu-west-1"
    for name in ("acme-ocr-gpu", "acme-ocr-gpu-multi", "acme-ocr-cpu"):
        template.has_resource_properties("AWS::Batch::JobDefinition", {"JobDefinitionName": name})
    for name in ("acme-ocr-gpu-queue", "acme-ocr-cpu-queue"):
        template.has_resource_properties("AWS::Batch::JobQueue", {"JobQueueName": name})
    zones = {s["Properties"]["AvailabilityZone"] for s in variant_platform.resources("AWS::EC2::Subnet").values()}
    assert zones == {"eu-west-1a", "eu-west-1b", "eu-west-1c"}


def test_variant_capacity_and_outputs(variant_platform):
    environments = variant_platform.resources("AWS::Batch::ComputeEnvironment").values()
    assert sorted(ce["Properties"]["ComputeResources"]["Type"] for ce in environments) == ["EC2", "EC2"]
    caps = {
        resources["InstanceTypes"][0]: resources["MaxvCpus"]
        for resources in (ce["Properties"]["ComputeResources"] for ce in environments)
    }
    assert caps == {"g5.xlarge": 12, "c5.large": 64}, "on-demand GPUs keep their own cap without Spot too"
    variant_platform.template.has_resource_properties(
        "AWS::Batch::ComputeEnvironment",
        {"ComputeResources": Match.object_like({"InstanceTypes": ["g5.xlarge", "g5.12xlarge"]})},
    )
    outputs = set(variant_platform.document["Outputs"])
    assert set(stack_outputs.REQUIRED) <= outputs
    assert stack_outputs.GPU_SPOT_COMPUTE_ENV not in outputs
    assert stack_outputs.GPU_ON_DEMAND_COMPUTE_ENV in outputs


def test_variant_passes_the_security_checks(variant_platform):
    # The auto-delete custom resource only exists in this mode; it must be clean too.
    variant_platform.template.resource_count_is("Custom::S3AutoDeleteObjects", 2)
    assert AwsSolutionsChecks().validate_scope(variant_platform.app).violations == []
    assert cfnlint.api.lint(variant_platform.template_path.read_text(), regions=["eu-west-1"]) == []


def test_nat_gateways_follow_the_setting(variant_platform, new_vpc_platform):
    assert len(new_vpc_platform.resources("AWS::EC2::NatGateway")) == 1  # the default: one for every zone
    assert len(variant_platform.resources("AWS::EC2::NatGateway")) == 3  # one per zone
    routes = [r["Properties"] for r in variant_platform.resources("AWS::EC2::Route").values()]
    private_nat_routes = {r["NatGatewayId"]["Ref"] for r in routes if "NatGatewayId" in r}
    assert len(private_nat_routes) == 3, "each zone's private subnets route to their own zone's gateway"
