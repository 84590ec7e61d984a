"""Fine-grained assertions on the synthesized template, in both VPC modes (never by hashed logical id)."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from ocrbatch import stack_outputs
from ocrbatch.layout import DATASETS_PREFIX, RUNS_PREFIX

from .conftest import EXISTING_VPC

PREFIX = stack_outputs.DEFAULT_PREFIX


# --- the bucket -------------------------------------------------------------------------------------


def data_bucket(platform) -> dict:
    return platform.resource(platform.document["Outputs"][stack_outputs.BUCKET]["Value"])


def test_kept_resources_have_generated_names_so_a_redeploy_after_destroy_succeeds(platform):
    kept = {k: r for k, r in platform.document["Resources"].items() if r.get("DeletionPolicy") == "Retain"}
    assert {r["Type"] for r in kept.values()} >= {"AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::Logs::LogGroup"}
    name_keys = ("BucketName", "LogGroupName")
    fixed = {k: key for k, r in kept.items() for key in name_keys if key in r.get("Properties", {})}
    assert fixed == {}, "a retained resource with a fixed name makes the next deploy fail with 'already exists'"


def test_bucket_is_encrypted_private_versioned_and_logged(platform):
    props = data_bucket(platform)["Properties"]
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"], True
    )
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    log_bucket = platform.resource(props["LoggingConfiguration"]["DestinationBucketName"])
    assert log_bucket["Type"] == "AWS::S3::Bucket"
    assert log_bucket["Properties"]["BucketEncryption"] == props["BucketEncryption"]


def test_bucket_aborts_incomplete_uploads_and_expires_old_versions(platform):
    (rule,) = data_bucket(platform)["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7}


def test_bucket_is_kept_on_destroy_by_default(platform):
    bucket = data_bucket(platform)
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"
    platform.template.resource_count_is("Custom::S3AutoDeleteObjects", 0)


def test_every_bucket_refuses_plain_http_and_old_tls(platform):
    for logical_id, bucket in platform.resources("AWS::S3::Bucket").items():
        policies = [
            p
            for p in platform.resources("AWS::S3::BucketPolicy").values()
            if p["Properties"]["Bucket"] == {"Ref": logical_id}
        ]
        assert len(policies) == 1, logical_id
        statements = policies[0]["Properties"]["PolicyDocument"]["Statement"]
        denies = [s for s in statements if s["Effect"] == "Deny"]
        assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denies]
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in [s["Condition"] for s in denies]


# --- network ----------------------------------------------------------------------------------------


def compute_environments(platform) -> dict[str, dict]:
    return platform.resources("AWS::Batch::ComputeEnvironment")


def test_new_vpc_has_private_subnets_one_nat_and_an_s3_endpoint(new_vpc_platform):
    template = new_vpc_platform.template
    template.resource_count_is("AWS::EC2::VPC", 1)
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint", {"ServiceName": {"Fn::Join": ["", ["com.amazonaws.", {"Ref": "AWS::Region"}, ".s3"]]}}
    )
    template.has_resource_properties(
        "AWS::EC2::FlowLog", {"LogDestinationType": "s3", "TrafficType": "REJECT"}
    )
    subnets = new_vpc_platform.resources("AWS::EC2::Subnet")
    zones = {s["Properties"]["AvailabilityZone"] for s in subnets.values()}
    assert zones == {"us-west-2a", "us-west-2b", "us-west-2c"}
    for ce in compute_environments(new_vpc_platform).values():
        ce_subnets = [new_vpc_platform.resource(ref) for ref in ce["Properties"]["ComputeResources"]["Subnets"]]
        assert len(ce_subnets) == 3
        assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in ce_subnets)


def test_existing_vpc_is_used_by_id_and_nothing_is_created(existing_vpc_platform):
    template = existing_vpc_platform.template
    for resource_type in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::NatGateway", "AWS::EC2::FlowLog"):
        template.resource_count_is(resource_type, 0)
    template.all_resources_properties(
        "AWS::EC2::SecurityGroup", {"VpcId": EXISTING_VPC.vpc_id}
    )
    for ce in compute_environments(existing_vpc_platform).values():
        assert ce["Properties"]["ComputeResources"]["Subnets"] == list(EXISTING_VPC.subnet_ids)


def test_no_security_group_accepts_inbound_traffic(platform):
    for group in platform.resources("AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]
    platform.template.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)


# --- compute ----------------------------------------------------------------------------------------


def queue(platform, output_key: str) -> dict:
    return platform.referenced(platform.document["Outputs"][output_key]["Value"])


def ordered_environments(platform, output_key: str) -> list[dict]:
    order = sorted(queue(platform, output_key)["Properties"]["ComputeEnvironmentOrder"], key=lambda o: o["Order"])
    return [(o["Order"], platform.resource(o["ComputeEnvironment"])["Properties"]) for o in order]


def test_gpu_queue_puts_spot_first_and_on_demand_behind_it(platform):
    (first_order, spot), (second_order, on_demand) = ordered_environments(platform, stack_outputs.GPU_QUEUE)
    assert (first_order, second_order) == (1, 2)
    assert queue(platform, stack_outputs.GPU_QUEUE)["Properties"]["JobQueueName"] == f"{PREFIX}-gpu-queue"
    gpu_types = ["p3.2xlarge", "p3.8xlarge", "g4dn.xlarge", "g4dn.2xlarge", "g4dn.12xlarge", "g5.12xlarge"]
    assert spot["ComputeResources"] == like(
        Type="SPOT",
        AllocationStrategy="SPOT_PRICE_CAPACITY_OPTIMIZED",
        BidPercentage=100,
        MinvCpus=0,
        MaxvCpus=64,
        InstanceTypes=gpu_types,
        Ec2Configuration=[{"ImageType": "ECS_AL2023_NVIDIA"}],
    )
    assert on_demand["ComputeResources"] == like(
        Type="EC2",
        MinvCpus=0,
        MaxvCpus=8,  # its own small cap: on-demand bills at list price
        InstanceTypes=gpu_types,
        Ec2Configuration=[{"ImageType": "ECS_AL2023_NVIDIA"}],
    )
    assert "BidPercentage" not in on_demand["ComputeResources"]


def test_cpu_queue_has_one_spot_cpu_environment(platform):
    ((order, cpu),) = ordered_environments(platform, stack_outputs.CPU_QUEUE)
    assert queue(platform, stack_outputs.CPU_QUEUE)["Properties"]["JobQueueName"] == f"{PREFIX}-cpu-queue"
    assert cpu["ComputeResources"] == like(
        Type="SPOT",
        AllocationStrategy="SPOT_PRICE_CAPACITY_OPTIMIZED",
        MinvCpus=0,
        MaxvCpus=64,
        InstanceTypes=["c5.large", "c5.xlarge", "c5.2xlarge", "c5.4xlarge"],
        Ec2Configuration=[{"ImageType": "ECS_AL2023"}],
    )


def test_every_environment_launches_with_a_big_encrypted_root_volume_and_imdsv2(platform):
    for ce in compute_environments(platform).values():
        template_ref = ce["Properties"]["ComputeResources"]["LaunchTemplate"]["LaunchTemplateId"]
        data = platform.resource(template_ref)["Properties"]["LaunchTemplateData"]
        (root,) = data["BlockDeviceMappings"]
        assert root["DeviceName"] == "/dev/xvda"
        assert root["Ebs"]["VolumeSize"] >= 100
        assert root["Ebs"]["VolumeType"] == "gp3"
        assert root["Ebs"]["Encrypted"] is True
        assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}


@pytest.mark.parametrize("output_key", [stack_outputs.GPU_QUEUE, stack_outputs.CPU_QUEUE])
def test_queues_cancel_jobs_stuck_in_runnable(platform, output_key):
    actions = queue(platform, output_key)["Properties"]["JobStateTimeLimitActions"]
    by_reason = {a["Reason"]: a for a in actions}
    assert set(by_reason) == {
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    }
    assert all(a["State"] == "RUNNABLE" and a["Action"] == "CANCEL" for a in actions)
    assert by_reason["MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"]["MaxTimeSeconds"] == 600
    assert by_reason["CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"]["MaxTimeSeconds"] == 4 * 3600


# --- job definitions --------------------------------------------------------------------------------


def job_definition(platform, output_key: str) -> dict:
    return platform.referenced(platform.document["Outputs"][output_key]["Value"])["Properties"]


def resource_requirements(container: dict) -> dict[str, str]:
    return {r["Type"]: r["Value"] for r in container["ResourceRequirements"]}


@pytest.mark.parametrize(
    ("output_key", "name", "vcpus", "memory_mib", "gpus", "shm_mib", "timeout_h"),
    [
        (stack_outputs.GPU_JOB_DEFINITION, f"{PREFIX}-gpu", "4", str(15 * 1024), "1", 6 * 1024, 4),
        (stack_outputs.MULTI_GPU_JOB_DEFINITION, f"{PREFIX}-gpu-multi", "30", str(176 * 1024), "4", 32 * 1024, 4),
        (stack_outputs.CPU_JOB_DEFINITION, f"{PREFIX}-cpu", "4", str(6 * 1024), None, 2 * 1024, 8),
    ],
)
def test_job_definition_sizes(platform, output_key, name, vcpus, memory_mib, gpus, shm_mib, timeout_h):
    definition = job_definition(platform, output_key)
    container = definition["ContainerProperties"]
    assert definition["JobDefinitionName"] == name
    assert definition["PlatformCapabilities"] == ["EC2"]
    requirements = resource_requirements(container)
    assert (requirements["VCPU"], requirements["MEMORY"], requirements.get("GPU")) == (vcpus, memory_mib, gpus)
    assert container["LinuxParameters"] == {"SharedMemorySize": shm_mib, "InitProcessEnabled": True}
    assert definition["Timeout"] == {"AttemptDurationSeconds": timeout_h * 3600}


def test_multi_gpu_job_fits_a_p3_8xlarge():
    # p3.8xlarge: 4 GPUs, 32 vCPUs, 244 GiB; the 4-GPU g4dn/g5 types have 192 GiB.
    from stacks.jobs import MULTI_GPU

    assert MULTI_GPU.gpus == 4 and MULTI_GPU.vcpus < 32 and MULTI_GPU.memory.to_gibibytes() < 192


@pytest.mark.parametrize(
    "output_key",
    [stack_outputs.GPU_JOB_DEFINITION, stack_outputs.MULTI_GPU_JOB_DEFINITION, stack_outputs.CPU_JOB_DEFINITION],
)
def test_job_definitions_share_image_roles_environment_retries_and_logs(platform, output_key):
    definition = job_definition(platform, output_key)
    container = definition["ContainerProperties"]
    assert "Command" not in container  # the image's entrypoint runs the trainer
    assert container["Image"]["Fn::Sub"].endswith(platform.stack.image.asset.asset_hash)
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert "PYTHONPATH" not in environment  # ocrbatch is installed in the image's virtualenv
    assert environment["S3_BUCKET"] == platform.document["Outputs"][stack_outputs.BUCKET]["Value"]
    assert platform.resource(container["JobRoleArn"])["Type"] == "AWS::IAM::Role"
    assert container["JobRoleArn"] != container["ExecutionRoleArn"]
    assert definition["RetryStrategy"] == {
        "Attempts": 3,
        "EvaluateOnExit": [
            {"Action": "RETRY", "OnStatusReason": "Host EC2*"},
            {"Action": "RETRY", "OnExitCode": "143"},  # the trainer stopped on the Spot notice (test_instances)
            {"Action": "RETRY", "OnReason": "CannotPullContainerError:*"},
            {"Action": "EXIT", "OnExitCode": "*"},
            {"Action": "EXIT", "OnReason": "*"},
        ],
    }
    log = container["LogConfiguration"]
    assert log["LogDriver"] == "awslogs"
    log_group = platform.resource(log["Options"]["awslogs-group"])
    assert log_group["Properties"] == {"RetentionInDays": 30}
    assert log_group["DeletionPolicy"] == "Retain"


def test_job_roles_are_assumed_by_ecs_tasks_only(platform):
    definition = job_definition(platform, stack_outputs.GPU_JOB_DEFINITION)["ContainerProperties"]
    for ref in (definition["JobRoleArn"], definition["ExecutionRoleArn"]):
        role = platform.resource(ref)["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}}
        ]
        assert "ManagedPolicyArns" not in role


def test_execution_role_may_only_pull_the_image_and_write_logs(platform):
    definition = job_definition(platform, stack_outputs.GPU_JOB_DEFINITION)["ContainerProperties"]
    role_id = definition["ExecutionRoleArn"]["Fn::GetAtt"][0]
    actions = set()
    for policy in platform.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions.update([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    assert actions == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetAuthorizationToken",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


def test_instances_use_the_ecs_instance_policy_only(platform):
    for ce in compute_environments(platform).values():
        profile = platform.resource(ce["Properties"]["ComputeResources"]["InstanceRole"])
        (role_ref,) = profile["Properties"]["Roles"]
        role = platform.resource(role_ref)["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
        (policy,) = role["ManagedPolicyArns"]
        assert policy["Fn::Join"][1][-1].endswith("policy/service-role/AmazonEC2ContainerServiceforEC2Role")
        assert "Policies" not in role


# --- outputs ----------------------------------------------------------------------------------------


def test_outputs_carry_every_key_the_cli_reads(platform):
    outputs = platform.document["Outputs"]
    assert set(outputs) == set(stack_outputs.ALL)
    assert outputs[stack_outputs.REGION]["Value"] == {"Ref": "AWS::Region"}
    assert platform.resource(outputs[stack_outputs.LOG_GROUP]["Value"])["Type"] == "AWS::Logs::LogGroup"
    assert all("Export" not in output for output in outputs.values())


def test_job_role_policy_is_built_from_the_layout_prefixes(platform):
    platform.template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "s3:ListBucket",
                                "Condition": {"StringLike": {"s3:prefix": [DATASETS_PREFIX + "*", RUNS_PREFIX + "*"]}},
                            }
                        )
                    ]
                )
            }
        },
    )


def like(**expected):
    """A value equal to any dict holding at least these items (readable failures with plain asserts)."""

    class _Like(dict):
        def __eq__(self, other):
            return isinstance(other, dict) and all(other.get(k) == v for k, v in self.items())

        __hash__ = None

    return _Like(expected)
