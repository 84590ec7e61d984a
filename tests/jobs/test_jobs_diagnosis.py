"""Why RUNNABLE: queue/compute environment state, instance fit, max vCPUs and GPU vCPU quotas."""

import boto3
from botocore.stub import Stubber

from ocrbatch.jobs.diagnosis import InstanceCatalog, diagnose_runnable, family_group, job_requirements
from tests.jobs_fakes import REGION, FakeQuotas

QUEUE_ARN = "arn:aws:batch:us-west-2:123456789012:job-queue/gpu-queue"
SPOT_ARN = "arn:aws:batch:us-west-2:123456789012:compute-environment/gpu-spot"
ONDEMAND_ARN = "arn:aws:batch:us-west-2:123456789012:compute-environment/gpu-ondemand"


def gpu_job(vcpus="4", memory="15000", gpus="1", reason=None):
    job = {
        "jobId": "j", "jobName": "n", "status": "RUNNABLE", "jobQueue": QUEUE_ARN, "jobDefinition": "d",
        "createdAt": 1,
        "container": {"resourceRequirements": [
            {"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}, {"type": "GPU", "value": gpus},
        ]},
    }
    if reason:
        job["statusReason"] = reason
    return job


def environment(arn, *, kind="SPOT", types=("g4dn.xlarge", "g5.xlarge"), state="ENABLED", status="VALID",
                max_vcpus=64, desired=0, reason=None):
    ce = {
        "computeEnvironmentName": arn.rsplit("/", 1)[-1], "computeEnvironmentArn": arn, "ecsClusterArn": "c",
        "state": state, "status": status, "type": "MANAGED",
        "computeResources": {"type": kind, "minvCpus": 0, "maxvCpus": max_vcpus, "desiredvCpus": desired,
                             "instanceTypes": list(types), "subnets": ["s"]},
    }
    if reason:
        ce["statusReason"] = reason
    return ce


def diagnose(job, environments, *, queue_state="ENABLED", quotas=None):
    """Run the diagnosis against a Stubber-backed batch client answering with these resources."""
    batch = boto3.client("batch", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(batch)
    queue = {
        "jobQueueName": "gpu-queue", "jobQueueArn": QUEUE_ARN, "state": queue_state, "status": "VALID",
        "priority": 1,
        "computeEnvironmentOrder": [{"order": i + 1, "computeEnvironment": ce["computeEnvironmentArn"]}
                                    for i, ce in enumerate(environments)],
    }
    stub.add_response("describe_job_queues", {"jobQueues": [queue]}, {"jobQueues": [QUEUE_ARN]})
    stub.add_response(
        "describe_compute_environments",
        {"computeEnvironments": environments},
        {"computeEnvironments": [ce["computeEnvironmentArn"] for ce in environments]},
    )
    with stub:
        findings = diagnose_runnable(job, batch=batch, quotas=quotas or FakeQuotas({"L-3819A6DF": 32, "L-DB2E81BA": 32}))
    stub.assert_no_pending_responses()
    return findings


def test_zero_spot_quota_is_named_with_its_code_and_the_fix():
    findings = diagnose(gpu_job(), [environment(SPOT_ARN)], quotas=FakeQuotas({"L-3819A6DF": 0}))
    assert len(findings) == 1
    assert "All G and VT Spot Instance Requests" in findings[0] and "L-3819A6DF" in findings[0]
    assert "request-service-quota-increase" in findings[0]


def test_on_demand_environment_is_checked_against_the_on_demand_quota():
    quotas = FakeQuotas({"L-3819A6DF": 32, "L-DB2E81BA": 2})
    findings = diagnose(gpu_job(), [environment(SPOT_ARN), environment(ONDEMAND_ARN, kind="EC2")], quotas=quotas)
    assert len(findings) == 1 and "gpu-ondemand" in findings[0] and "L-DB2E81BA" in findings[0]
    assert "is 2, below the 4 vCPUs" in findings[0]


def test_p_instances_use_the_p_quota():
    quotas = FakeQuotas({"L-7212CCBC": 0})
    findings = diagnose(gpu_job(vcpus="8", memory="50000"), [environment(SPOT_ARN, types=["p3"])], quotas=quotas)
    assert "L-7212CCBC" in findings[0] and "8 vCPUs of the smallest fitting instance" in findings[0]


def test_job_too_big_for_every_instance_type():
    findings = diagnose(gpu_job(vcpus="4", memory="16384"), [environment(SPOT_ARN, types=["g4dn.xlarge"])])
    assert any("no instance type fits the job (4 vCPU, 16384 MiB, 1 GPU)" in f for f in findings)
    assert any("can hold the job" in f for f in findings)


def test_four_gpus_need_a_four_gpu_type():
    findings = diagnose(gpu_job(vcpus="8", memory="60000", gpus="4"), [environment(SPOT_ARN, types=["g5"])])
    assert findings and all("no instance type" not in f for f in findings)  # g5.12xlarge has 4 GPUs
    findings = diagnose(gpu_job(gpus="4"), [environment(SPOT_ARN, types=["g4dn.xlarge", "g4dn.2xlarge"])])
    assert any("no instance type fits" in f for f in findings)


def test_disabled_or_invalid_environment_and_disabled_queue():
    envs = [environment(SPOT_ARN, state="DISABLED"),
            environment(ONDEMAND_ARN, kind="EC2", status="INVALID", reason="CLIENT_ERROR - subnet not found")]
    findings = diagnose(gpu_job(), envs, queue_state="DISABLED")
    text = "\n".join(findings)
    assert "job queue gpu-queue is DISABLED" in text
    assert "gpu-spot is DISABLED" in text and "--state ENABLED" in text
    assert "gpu-ondemand is INVALID: CLIENT_ERROR - subnet not found" in text


def test_max_vcpus_reached():
    findings = diagnose(gpu_job(), [environment(SPOT_ARN, max_vcpus=16, desired=16)])
    assert findings == ["compute environment gpu-spot is at its maximum (16 of 16 vCPUs in use): "
                        "the job waits for running jobs to finish, or raise maxvCpus"]
    findings = diagnose(gpu_job(vcpus="8"), [environment(SPOT_ARN, max_vcpus=4, types=["g4dn.2xlarge"])])
    assert "maxvCpus 4 is below the smallest instance that fits (8 vCPU)" in findings[0]


def test_nothing_wrong_says_so_and_quotes_batch():
    findings = diagnose(gpu_job(reason="CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - no Spot capacity"),
                        [environment(SPOT_ARN)])
    assert findings[0] == "Batch says: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - no Spot capacity"
    assert findings[1].startswith("no configuration problem found: Spot capacity")


def test_unreadable_quota_is_not_a_finding():
    findings = diagnose(gpu_job(), [environment(SPOT_ARN)], quotas=FakeQuotas(denied=True))
    assert findings[0].startswith("no configuration problem found")


def test_requirements_and_families():
    assert str(job_requirements(gpu_job())) == "4 vCPU, 15000 MiB, 1 GPU"
    legacy = {"container": {"vcpus": 2, "memory": 2048}}
    assert str(job_requirements(legacy)) == "2 vCPU, 2048 MiB"
    assert [family_group(t) for t in ("g4dn.xlarge", "vt1.3xlarge", "p4d.24xlarge", "c5.large")] == ["G", "G", "P", None]


def test_unknown_instance_types_are_asked_of_ec2():
    class FakeEc2:
        def get_paginator(self, name):
            assert name == "describe_instance_types"
            return self

        def paginate(self, **kwargs):
            assert kwargs == {"InstanceTypes": ["g6e.xlarge"]}
            yield {"InstanceTypes": [{"InstanceType": "g6e.xlarge", "VCpuInfo": {"DefaultVCpus": 4},
                                      "MemoryInfo": {"SizeInMiB": 32768},
                                      "GpuInfo": {"Gpus": [{"Count": 1}]}}]}

    spec = InstanceCatalog(FakeEc2()).expand("g6e.xlarge")["g6e.xlarge"]
    assert (spec.vcpus, spec.memory_mib, spec.gpus) == (4, 32768, 1)
    assert InstanceCatalog(None).expand("zz9.huge") == {}
