"""Alerts and bounded spend: what tells someone, and what caps the bill (template assertions + the
INVALID-environment check run against stubbed Batch and SNS clients)."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.stub import Stubber

from ocrbatch import stack_outputs
from stacks import invalid_environment_alarm

TOPIC = "arn:aws:sns:us-west-2:123456789012:alerts"


def alert_topic(platform) -> tuple[str, dict]:
    ref = platform.document["Outputs"][stack_outputs.ALERT_TOPIC]["Value"]
    return ref["Ref"], platform.resource(ref)


def rules_to(platform, topic_id: str) -> dict[str, dict]:
    return {
        k: r["Properties"]
        for k, r in platform.resources("AWS::Events::Rule").items()
        if any(t["Arn"] == {"Ref": topic_id} for t in r["Properties"].get("Targets", []))
    }


def queues(platform) -> list[dict]:
    return [platform.referenced(platform.document["Outputs"][key]["Value"]) for key in (stack_outputs.GPU_QUEUE, stack_outputs.CPU_QUEUE)]


def test_failed_jobs_and_blocked_queues_of_our_queues_reach_the_topic(platform):
    topic_id, topic = alert_topic(platform)
    patterns = {r["EventPattern"]["detail-type"][0]: r for r in rules_to(platform, topic_id).values()}
    assert set(patterns) == {"Batch Job State Change", "Batch Job Queue Blocked"}
    failed = patterns["Batch Job State Change"]["EventPattern"]
    assert failed["source"] == ["aws.batch"] and failed["detail"]["status"] == ["FAILED"]
    # A sweep alerts once (its parent), not once per failed child: children carry an array index.
    from moto.events.models import EventPattern

    queue_arn = "arn:aws:batch:us-west-2:123456789012:job-queue/gpu"
    matcher = EventPattern(None, {**failed, "detail": {**failed["detail"], "jobQueue": [queue_arn]}})

    def event(**detail) -> dict:
        return {"source": "aws.batch", "detail-type": "Batch Job State Change",
                "detail": {"status": "FAILED", "jobQueue": queue_arn, "jobId": "j", **detail}}

    assert matcher.matches_event(event())  # a plain job
    assert matcher.matches_event(event(arrayProperties={"size": 1000, "statusSummary": {}}))  # a sweep's parent
    assert not matcher.matches_event(event(arrayProperties={"index": 7}))  # one child of it
    assert not matcher.matches_event({**event(), "detail": {**event()["detail"], "status": "SUCCEEDED"}})
    blocked = patterns["Batch Job Queue Blocked"]["EventPattern"]
    for pattern in (failed, blocked):
        assert [platform.referenced(arn) for arn in pattern["detail"]["jobQueue"]] == queues(platform)
    message = patterns["Batch Job State Change"]["Targets"][0]["InputTransformer"]
    assert "<detail-statusReason>" in message["InputTemplate"] and "ocrbatch monitor" in message["InputTemplate"]
    # EventBridge may publish (CDK writes the topic policy), and only over TLS.
    (policy,) = platform.resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s.get("Principal") == {"Service": "events.amazonaws.com"} for s in statements)
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
    assert platform.resources("AWS::SNS::Subscription") == {}, "no address is subscribed unless one is set"
    assert platform.resources("AWS::Budgets::Budget") == {}, "no budget unless one is set"


def test_invalid_environments_are_looked_for_on_a_schedule(platform):
    # (CDK's own deploy-time handlers are Lambda functions too, from assets; ours is inline.)
    (function,) = [f for f in platform.resources("AWS::Lambda::Function").values() if "ZipFile" in f["Properties"]["Code"]]
    props = function["Properties"]
    assert "def handler(event, context)" in props["Code"]["ZipFile"]
    watched = props["Environment"]["Variables"]["COMPUTE_ENVIRONMENTS"]["Fn::Join"][1]
    expected = [
        platform.referenced(platform.document["Outputs"][k]["Value"])
        for k in (stack_outputs.GPU_SPOT_COMPUTE_ENV, stack_outputs.GPU_ON_DEMAND_COMPUTE_ENV, stack_outputs.CPU_COMPUTE_ENV)
    ]
    assert [platform.referenced(w) for w in watched if w != ","] == expected
    (schedule,) = [r["Properties"] for r in platform.resources("AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]]
    assert schedule["ScheduleExpression"] == "rate(30 minutes)"


def test_an_alert_address_and_a_budget_are_wired_when_set(variant_platform):
    topic_id, _ = alert_topic(variant_platform)
    (subscription,) = variant_platform.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {"Protocol": "email", "TopicArn": {"Ref": topic_id}, "Endpoint": "ops@example.com"}
    (budget,) = variant_platform.resources("AWS::Budgets::Budget").values()
    data = budget["Properties"]["Budget"]
    assert (data["BudgetType"], data["TimeUnit"], data["BudgetLimit"]) == ("COST", "MONTHLY", {"Amount": 500, "Unit": "USD"})
    notifications = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]): n["Subscribers"]
        for n in budget["Properties"]["NotificationsWithSubscribers"]
    }
    assert set(notifications) == {("ACTUAL", 80), ("FORECASTED", 100)}
    assert all(s == [{"SubscriptionType": "SNS", "Address": {"Ref": topic_id}}] for s in notifications.values())
    (policy,) = variant_platform.resources("AWS::SNS::TopicPolicy").values()
    principals = [s.get("Principal") for s in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert {"Service": "budgets.amazonaws.com"} in principals


def test_destroying_data_deletes_everything_it_kept_otherwise(variant_platform):
    kinds = ("AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::Logs::LogGroup")
    for kind in kinds:
        for resource in variant_platform.resources(kind).values():
            assert resource.get("DeletionPolicy", "Delete") == "Delete", kind


def test_kept_buckets_keep_their_policies(platform):
    buckets = platform.resources("AWS::S3::Bucket")
    for policy in platform.resources("AWS::S3::BucketPolicy").values():
        bucket = buckets[policy["Properties"]["Bucket"]["Ref"]]
        assert bucket["DeletionPolicy"] == "Retain"
        assert policy["DeletionPolicy"] == "Retain", "destroy would strip the kept bucket's TLS-only deny"


def test_on_demand_gpus_have_their_own_small_cap(platform):
    on_demand = platform.referenced(platform.document["Outputs"][stack_outputs.GPU_ON_DEMAND_COMPUTE_ENV]["Value"])
    spot = platform.referenced(platform.document["Outputs"][stack_outputs.GPU_SPOT_COMPUTE_ENV]["Value"])
    assert on_demand["Properties"]["ComputeResources"]["MaxvCpus"] == 8
    assert spot["Properties"]["ComputeResources"]["MaxvCpus"] == 64


# --- the check itself, against stubbed clients -----------------------------------------------------


def stubbed(service: str):
    client = botocore.session.get_session().create_client(
        service, region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def environment(name: str, status: str, reason: str | None = None) -> dict:
    ce = {
        "computeEnvironmentName": name,
        "computeEnvironmentArn": f"arn:aws:batch:us-west-2:123456789012:compute-environment/{name}",
        "status": status,
        "state": "ENABLED",
    }
    return {**ce, "statusReason": reason} if reason else ce


@pytest.mark.parametrize("statuses", [["VALID", "VALID"], ["VALID", "UPDATING"]])
def test_check_stays_quiet_while_no_environment_is_invalid(statuses):
    batch, batch_stub = stubbed("batch")
    sns, sns_stub = stubbed("sns")
    names = ["gpu", "cpu"]
    batch_stub.add_response(
        "describe_compute_environments",
        {"computeEnvironments": [environment(n, s) for n, s in zip(names, statuses)]},
        {"computeEnvironments": names},
    )
    with batch_stub, sns_stub:
        assert invalid_environment_alarm.notify(batch, sns, names, TOPIC, "stack") == []
    sns_stub.assert_no_pending_responses()


def test_check_names_each_invalid_environment_and_its_reason():
    batch, batch_stub = stubbed("batch")
    sns, sns_stub = stubbed("sns")
    names = ["gpu", "cpu"]
    batch_stub.add_response(
        "describe_compute_environments",
        {"computeEnvironments": [environment("gpu", "INVALID", "CLIENT_ERROR - subnet-1 does not exist"), environment("cpu", "VALID")]},
        {"computeEnvironments": names},
    )
    published = {}
    sns_stub.add_response("publish", {"MessageId": "1"})
    sns.meta.events.register("before-parameter-build.sns.Publish", lambda params, **_: published.update(params))
    with batch_stub, sns_stub:
        invalid = invalid_environment_alarm.notify(batch, sns, names, TOPIC, "pinball-ocr-training-infrastructure")
    assert invalid == [("gpu", "CLIENT_ERROR - subnet-1 does not exist")]
    assert published["TopicArn"] == TOPIC
    assert published["Subject"] == "pinball-ocr-training-infrastructure: 1 compute environment(s) INVALID"
    assert published["Message"].startswith("gpu: CLIENT_ERROR - subnet-1 does not exist\n")
