"""Who is told when something goes wrong: one SNS topic and what publishes to it.

- A job that ends FAILED on one of the stack's queues (EventBridge, "Batch Job State Change"); a sweep
  (an array job) once, when its parent fails, not once per failed child of a thousand.
- A queue blocked by a job that cannot run (EventBridge, "Batch Job Queue Blocked", with Batch's reason).
- A compute environment that turned INVALID: Batch sends no event for that, so a small Lambda function
  (``stacks.invalid_environment_alarm``) looks every 30 minutes and publishes while one is INVALID
  (~1,500 short runs a month: inside Lambda's free tier).
- Optionally, an AWS Budgets monthly cost budget: 80 % of it actually spent, or 100 % forecast.

Anyone can subscribe to the topic (``AlertTopicArn`` output); ``alert_email`` subscribes one address at
deploy time (AWS sends a confirmation mail first). The topic is not KMS-encrypted: its messages carry job
names and Batch's reasons, not data, and neither EventBridge nor AWS Budgets can publish to a topic
under the AWS-managed SNS key; a customer-managed key would cost $1/month for nothing it protects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.findings import acknowledge_nag, ignore_cfn_lint, skip_checkov

ENVIRONMENT_CHECK_INTERVAL = Duration.minutes(30)
ALARM_SOURCE = Path(__file__).with_name("invalid_environment_alarm.py")
BUDGET_ACTUAL_PERCENT = 80
BUDGET_FORECAST_PERCENT = 100


class Alerts(Construct):
    """``topic``: every alert of the platform; ``budget`` when a monthly budget is set."""

    topic: sns.Topic
    budget: budgets.CfnBudget | None

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queues: Sequence[batch.IJobQueue],
        compute_environments: Sequence[batch.IComputeEnvironment],
        email: str | None = None,
        monthly_budget_usd: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.topic = sns.Topic(self, "Topic", display_name=f"{stack.stack_name} alerts", enforce_ssl=True)
        acknowledge_nag(
            self.topic,
            "AwsSolutions-SNS2",
            "Alerts carry job names and Batch's reasons, no data; EventBridge and AWS Budgets cannot publish "
            "to a topic under the AWS-managed key, and a customer key would cost $1/month for nothing.",
        )
        skip_checkov(self.topic, "CKV_AWS_26", "See AwsSolutions-SNS2 on this topic: nothing secret is published.")
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

        queue_arns = [queue.job_queue_arn for queue in queues]
        job_name = events.EventField.from_path("$.detail.jobName")
        job_id = events.EventField.from_path("$.detail.jobId")
        reason = events.EventField.from_path("$.detail.statusReason")
        queue = events.EventField.from_path("$.detail.jobQueue")
        self._rule(
            "JobFailed",
            "A training job failed",
            {
                "detail-type": ["Batch Job State Change"],
                # An array job's children carry arrayProperties.index; plain jobs and the parent do not.
                "detail": {"status": ["FAILED"], "jobQueue": queue_arns, "arrayProperties": {"index": [{"exists": False}]}},
            },
            f"Job {job_name} ({job_id}) FAILED on {queue}: {reason}. "
            f"See `ocrbatch monitor {job_id}` for its log.",
        )
        self._rule(
            "QueueBlocked",
            "A job blocks a training queue",
            {"detail-type": ["Batch Job Queue Blocked"], "detail": {"jobQueue": queue_arns}},
            f"Job {job_name} ({job_id}) blocks {queue}: {reason}. "
            f"`ocrbatch monitor {job_id}` explains it; `ocrbatch doctor` checks the platform.",
        )
        self._invalid_environment_alarm(compute_environments)
        self.budget = self._budget(monthly_budget_usd) if monthly_budget_usd else None

    def _rule(self, construct_id: str, description: str, pattern: dict, message: str) -> events.Rule:
        return events.Rule(
            self,
            construct_id,
            description=f"{description}: tell the alert topic",
            event_pattern=events.EventPattern(
                source=["aws.batch"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
            targets=[targets.SnsTopic(self.topic, message=events.RuleTargetInput.from_text(message))],
        )

    def _invalid_environment_alarm(self, compute_environments: Sequence[batch.IComputeEnvironment]) -> None:
        log_group = logs.LogGroup(
            self,
            "EnvironmentCheckLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,  # a function's own log; nothing to keep after destroy
        )
        skip_checkov(log_group, "CKV_AWS_158", "Holds only this check's own log lines; no secrets.")
        role = iam.Role(
            self,
            "EnvironmentCheckRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Reads the compute environments' status, publishes to the alert topic",
        )
        log_group.grant_write(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["batch:DescribeComputeEnvironments"], resources=["*"])
        )
        acknowledge_nag(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "batch:DescribeComputeEnvironments has no resource-level permissions; it only reads status.",
        )
        self.topic.grant_publish(role)
        function = lambda_.Function(
            self,
            "EnvironmentCheck",
            description="Publishes to the alert topic while a compute environment of the stack is INVALID",
            runtime=lambda_.Runtime.PYTHON_3_14,  # cdk-nag (AwsSolutions-L1) asks for the newest
            handler="index.handler",
            code=lambda_.Code.from_inline(ALARM_SOURCE.read_text()),
            timeout=Duration.seconds(30),
            memory_size=128,
            role=role,
            log_group=log_group,
            environment={
                "COMPUTE_ENVIRONMENTS": ",".join(ce.compute_environment_arn for ce in compute_environments),
                "TOPIC_ARN": self.topic.topic_arn,
                "STACK_NAME": Aws.STACK_NAME,
            },
        )
        skip_checkov(function, "CKV_AWS_115", "Runs every 30 minutes; reserved concurrency would only idle.")
        skip_checkov(function, "CKV_AWS_116", "A missed run is repeated 30 minutes later; a DLQ adds nothing.")
        skip_checkov(function, "CKV_AWS_117", "Calls only the Batch and SNS APIs; no VPC resource to reach.")
        skip_checkov(function, "CKV_AWS_173", "Its environment holds ARNs and the stack name, nothing secret.")
        # CDK writes both a DependsOn and a GetAtt on the function's role (so the policy exists first).
        ignore_cfn_lint(function, "W3005")
        events.Rule(
            self,
            "EnvironmentCheckSchedule",
            description="Look for INVALID compute environments",
            schedule=events.Schedule.rate(ENVIRONMENT_CHECK_INTERVAL),
            targets=[targets.LambdaFunction(function, retry_attempts=0)],
        )

    def _budget(self, monthly_usd: int) -> budgets.CfnBudget:
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="BudgetsPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )

        def notification(kind: str, percent: int):
            return budgets.CfnBudget.NotificationWithSubscribersProperty(
                notification=budgets.CfnBudget.NotificationProperty(
                    notification_type=kind,
                    comparison_operator="GREATER_THAN",
                    threshold=percent,
                    threshold_type="PERCENTAGE",
                ),
                subscribers=[budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=self.topic.topic_arn)],
            )

        # The whole account's cost, not only this stack's: a tag filter would count nothing until someone
        # activates the cost allocation tag by hand, and a budget that silently reads $0 is worse.
        return budgets.CfnBudget(
            self,
            "MonthlyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                notification("ACTUAL", BUDGET_ACTUAL_PERCENT),
                notification("FORECASTED", BUDGET_FORECAST_PERCENT),
            ],
        )
