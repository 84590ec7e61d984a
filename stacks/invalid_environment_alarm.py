"""Runs in AWS Lambda, not in the CDK app: tells the alert topic when a compute environment is INVALID.

Batch sends no event when a compute environment turns INVALID (only job state changes and blocked
queues), so the stack runs this on a schedule. The source is inlined into the template by
``stacks.alerts``, which is why it imports nothing but boto3 (in every Lambda Python runtime) and
keeps the clients injectable for its tests.
"""

import os


def invalid_environments(batch, environments):
    """(name, reason) of every environment in ``environments`` (names or ARNs) whose status is INVALID."""
    found = batch.describe_compute_environments(computeEnvironments=list(environments))["computeEnvironments"]
    return [
        (ce["computeEnvironmentName"], ce.get("statusReason") or "no reason given")
        for ce in found
        if ce.get("status") == "INVALID"
    ]


def notify(batch, sns, environments, topic_arn, stack_name):
    invalid = invalid_environments(batch, environments)
    if invalid:
        lines = [f"{name}: {reason}" for name, reason in invalid]
        sns.publish(
            TopicArn=topic_arn,
            Subject=f"{stack_name}: {len(invalid)} compute environment(s) INVALID"[:100],
            Message="\n".join(
                [*lines, "", "No job can start on an INVALID environment. Fix the cause, then `cdk deploy`;"]
                + ["`ocrbatch doctor` shows the same check."]
            ),
        )
    return invalid


def handler(event, context):
    import boto3

    notify(
        boto3.client("batch"),
        boto3.client("sns"),
        os.environ["COMPUTE_ENVIRONMENTS"].split(","),
        os.environ["TOPIC_ARN"],
        os.environ["STACK_NAME"],
    )
