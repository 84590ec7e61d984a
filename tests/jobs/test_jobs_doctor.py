"""`doctor` checks against a moto deployment, with Service Quotas faked (moto has no EC2 quotas)."""

import boto3

from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.check_result import failed
from ocrbatch.jobs.doctor import check_aws, check_local
from tests.jobs_fakes import REGION, FakeQuotas, deploy_fake_stack


def clients_with(quotas):
    return lambda service: quotas if service == "service-quotas" else boto3.client(service, region_name=REGION)


def by_name(checks):
    return {check.name: check for check in checks}


def test_a_healthy_deployment_passes_every_check(deployment):
    checks = check_aws(clients_with(FakeQuotas({"L-3819A6DF": 32})), region=REGION, stack_name=deployment.stack_name)
    assert not failed(checks), checks
    names = by_name(checks)
    assert names["credentials"].detail.startswith("account 123456789012")
    assert names["stack"].detail.endswith("CREATE_COMPLETE")
    assert names["compute environment pinball-ocr-training-gpu-spot"].status == "ok"
    assert names["job queue pinball-ocr-training-gpu-queue"].status == "ok"
    assert names["training image"].status == "ok"
    assert names["GPU Spot quota (G)"].detail == "\"All G and VT Spot Instance Requests\" is 32 vCPUs"
    assert names["bucket"].status == "ok"
    assert names["spot prices"].status == "ok"  # what estimates and run costs read


def test_zero_quota_missing_image_and_disabled_queue_each_say_what_to_do(deployment):
    batch = boto3.client("batch", region_name=REGION)
    batch.update_job_queue(jobQueue=deployment[keys.CPU_QUEUE], state="DISABLED")
    batch.update_compute_environment(computeEnvironment=deployment[keys.GPU_SPOT_COMPUTE_ENV], state="DISABLED")
    boto3.client("ecr", region_name=REGION).batch_delete_image(repositoryName="cdk-assets", imageIds=[{"imageTag": "abc123"}])
    checks = by_name(check_aws(clients_with(FakeQuotas({"L-3819A6DF": 0})), region=REGION, stack_name=deployment.stack_name))
    assert checks["GPU Spot quota (G)"].status == "fail" and "L-3819A6DF" in checks["GPU Spot quota (G)"].detail
    assert checks["training image"].status == "fail" and "cdk deploy" in checks["training image"].detail
    queue = checks["job queue pinball-ocr-training-cpu-queue"]
    assert queue.status == "fail" and "DISABLED" in queue.detail
    spot = checks["compute environment pinball-ocr-training-gpu-spot"]
    assert spot.status == "fail" and spot.detail.startswith("DISABLED/VALID: enable it")
    assert checks["compute environment pinball-ocr-training-cpu"].status == "ok"


def test_missing_stack_fails_with_the_deploy_hint_and_still_checks_a_given_bucket(moto_aws):
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="mine", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    checks = check_aws(clients_with(FakeQuotas()), region=REGION, stack_name="nope", bucket="mine", stack_named=True)
    names = by_name(checks)
    assert names["stack"].status == "fail" and "cdk deploy" in names["stack"].detail
    assert names["bucket"].status == "ok"
    assert failed(checks)


def test_explicit_names_are_checked_without_a_stack(moto_aws):
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="mine", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    checks = check_aws(clients_with(FakeQuotas()), region=REGION, stack_name="default", bucket="mine")
    names = by_name(checks)
    assert names["stack"].status == "skip" and "checking the names you gave" in names["stack"].detail
    assert names["bucket"].status == "ok" and not failed(checks)

    names = by_name(check_aws(clients_with(FakeQuotas()), region=REGION, stack_name="default", job_queue="theirs"))
    queue = names["job queue theirs"]
    assert queue.status == "fail" and queue.detail == "not found: check --job-queue and --region, or run `cdk deploy`"


def test_an_explicit_queue_is_checked_beside_the_stacks(deployment):
    queue = deployment[keys.CPU_QUEUE]
    checks = check_aws(clients_with(FakeQuotas({"L-3819A6DF": 32})), region=REGION,
                       stack_name=deployment.stack_name, job_queue=queue)
    assert [check.name for check in checks].count(f"job queue {queue}") == 1 and not failed(checks)


def test_incomplete_stack_and_unreachable_bucket(moto_aws):
    deploy_fake_stack("partial", with_outputs=(keys.BUCKET, keys.GPU_QUEUE))
    boto3.client("s3", region_name=REGION).delete_bucket(Bucket="pinball-ocr-training-data-123456789012")
    names = by_name(check_aws(clients_with(FakeQuotas(denied=True)), region=REGION, stack_name="partial"))
    assert names["stack"].status == "fail" and keys.CPU_QUEUE in names["stack"].detail
    assert names["bucket"].status == "fail"
    assert names["GPU Spot quota (G)"].status == "warn"


def test_no_credentials_stops_early(clean_env):
    from botocore.exceptions import NoCredentialsError

    class NoCreds:
        def get_caller_identity(self):
            raise NoCredentialsError()

    checks = check_aws(lambda service: NoCreds(), region=REGION, stack_name="s")
    assert checks[0].status == "fail" and "aws configure" in checks[0].detail
    assert [c.status for c in checks[1:]] == ["skip", "skip"]


def test_local_checks(tmp_path):
    checks = by_name(check_local(tmp_path / "home"))
    assert checks["local home"].status == "ok"
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert check_local(blocked / "home")[0].status == "fail"


def test_the_doctor_command_takes_the_queue_and_bucket_named_on_its_command_line(moto_aws):
    import json

    from typer.testing import CliRunner

    from ocrbatch.cli import app

    theirs = deploy_fake_stack("someone-elses")  # the default stack is not deployed
    queue, bucket = theirs[keys.CPU_QUEUE], theirs[keys.BUCKET]
    result = CliRunner().invoke(app, ["doctor", "--aws", "--s3-bucket", bucket, "--job-queue", queue, "--json"])
    assert result.exit_code == 0, result.output
    names = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert names["stack"]["status"] == "skip" and names[f"job queue {queue}"]["status"] == "ok"
    assert names["bucket"]["status"] == "ok" and bucket in names["bucket"]["detail"]

    missing = CliRunner().invoke(app, ["doctor", "--aws", "--job-queue", "nobodys"])
    assert missing.exit_code == 3
    assert "job queue nobodys" in missing.stdout and "check --job-queue and --region" in missing.stdout
