"""Stack discovery from CloudFormation outputs (moto), with flag overrides and one-line hints."""

import boto3
import pytest

from ocrbatch import stack_outputs as keys
from ocrbatch.errors import BadInput, NotFound
from ocrbatch.jobs.stack import discover_stack
from tests.jobs_fakes import REGION, deploy_fake_stack


def cfn():
    return boto3.client("cloudformation", region_name=REGION)


def test_reads_every_name_from_the_default_stack(deployment):
    stack = discover_stack(cfn(), region=REGION)
    assert stack.found and stack.status == "CREATE_COMPLETE"
    assert stack.bucket == deployment[keys.BUCKET]
    assert stack.queue_for("gpu") == deployment[keys.GPU_QUEUE]
    assert stack.queue_for("cpu") == deployment[keys.CPU_QUEUE]
    assert stack.job_definition_for("gpu") == deployment[keys.GPU_JOB_DEFINITION]
    assert stack.job_definition_for("gpu", gpus=4) == deployment[keys.MULTI_GPU_JOB_DEFINITION]
    assert stack.job_definition_for("cpu") == deployment[keys.CPU_JOB_DEFINITION]
    assert stack.log_group == deployment[keys.LOG_GROUP]
    assert stack.missing_outputs == ()
    assert set(stack.known_queues()) == {deployment[keys.GPU_QUEUE], deployment[keys.CPU_QUEUE]}


def test_flags_override_the_stack(deployment):
    stack = discover_stack(cfn(), region=REGION, bucket="other", job_queue="q", job_definition="jd")
    assert stack.bucket == "other"
    assert stack.queue_for("gpu") == "q" and stack.queue_for("cpu") == "q"
    assert stack.job_definition_for("gpu", 4) == "jd"
    assert stack.known_queues()[0] == "q"


def test_named_stack_that_does_not_exist_is_one_line_with_the_fix(moto_aws):
    with pytest.raises(NotFound) as err:
        discover_stack(cfn(), region=REGION, stack_name="nope")
    message = str(err.value)
    assert "nope" in message and "cdk deploy" in message and "\n" not in message


def test_seed_flags_work_without_any_stack(moto_aws):
    stack = discover_stack(cfn(), region=REGION, bucket="b", job_queue="q", job_definition="jd")
    assert not stack.found
    assert (stack.bucket, stack.queue_for("gpu"), stack.job_definition_for("gpu")) == ("b", "q", "jd")
    with pytest.raises(NotFound, match="cdk deploy.*--stack"):
        stack.require("log_group")


def test_missing_default_stack_fails_on_first_use_with_the_deploy_hint(moto_aws):
    stack = discover_stack(cfn(), region=REGION)
    with pytest.raises(NotFound) as err:
        stack.queue_for("gpu")
    assert "cdk deploy" in str(err.value) and "--job-queue" in str(err.value)


def test_stack_lacking_an_output_names_it(moto_aws):
    deploy_fake_stack("partial", with_outputs=(keys.BUCKET, keys.GPU_QUEUE))
    stack = discover_stack(cfn(), region=REGION, stack_name="partial")
    assert keys.CPU_QUEUE in stack.missing_outputs
    with pytest.raises(NotFound, match=f"no output {keys.CPU_JOB_DEFINITION}.*--job-definition"):
        stack.job_definition_for("cpu")


@pytest.mark.parametrize("named", ["name", "arn"])
def test_the_cpu_queue_alone_is_refused_for_a_gpu_job_not_sent_the_gpu_definition(deployment, named):
    cpu_queue = deployment[keys.CPU_QUEUE]
    flag = cpu_queue if named == "name" else f"arn:aws:batch:{REGION}:123456789012:job-queue/{cpu_queue}"
    stack = discover_stack(cfn(), region=REGION, job_queue=flag)
    with pytest.raises(BadInput) as err:
        stack.job_definition_for("gpu")
    assert "--queue cpu" in str(err.value) and "\n" not in str(err.value)
    assert stack.job_definition_for("cpu") == deployment[keys.CPU_JOB_DEFINITION]
    assert discover_stack(cfn(), region=REGION, job_queue=flag, job_definition="jd").job_definition_for("gpu") == "jd"
    gpu_queue = discover_stack(cfn(), region=REGION, job_queue=deployment[keys.GPU_QUEUE])
    assert gpu_queue.job_definition_for("gpu") == deployment[keys.GPU_JOB_DEFINITION]
