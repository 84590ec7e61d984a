"""Who may do what: the least-privilege managed policy for the people (or CI) who run the CLI.

Attach ``CliUserPolicyArn`` (a stack output) to a user, group or role. It allows exactly what
``ocrbatch upload / submit / monitor / download / doctor`` call, on this stack's resources:

- S3: list the bucket; read, write and delete objects under ``datasets/`` and ``runs/`` (nothing else).
- Batch: submit to this stack's queues with this stack's job definitions; cancel and terminate jobs;
  describe and list (Batch has no resource-level permissions for those).
- Logs: read the training log group. CloudFormation: describe this stack. SNS: list the alert topic's
  subscribers. Read-only doctor calls: EC2 subnets/routes/endpoints, Service Quotas, ECR images.
- IAM: simulate the caller's own policies (an IAM user's; `doctor` asks whether a sweep's calls are allowed).
- EC2 Spot price history: what `submit --dry-run` estimates and what `list`/`monitor` say a run cost
  (priced on the client from the job's attempts, so the job role needs nothing for it).

Not granted, on purpose: ``batch:RegisterJobDefinition`` (a new definition could name any role and
image) and ``iam:PassRole`` (submitting with an existing definition passes no role: the definitions
carry theirs, so a CLI user cannot hand a job any other role).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws, Stack
from aws_cdk import aws_batch as batch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from ocrbatch.layout import DATASETS_PREFIX, RUNS_PREFIX
from stacks.findings import acknowledge_nag

# Batch, EC2, Service Quotas and ECR describe/list calls accept no resource but "*".
UNSCOPED_READS = [
    "batch:DescribeJobs",
    "batch:ListJobs",
    "batch:DescribeJobQueues",
    "batch:DescribeComputeEnvironments",
    "batch:DescribeJobDefinitions",
    "ec2:DescribeSubnets",
    "ec2:DescribeRouteTables",
    "ec2:DescribeVpcEndpoints",
    "servicequotas:GetServiceQuota",
    "ecr:DescribeImages",
]
# Spot prices are public figures of a region: the call takes no resource either.
PRICE_READS = ["ec2:DescribeSpotPriceHistory"]


class CliAccess(Construct):
    """``policy``: the managed policy a CLI user needs, and nothing more."""

    policy: iam.ManagedPolicy

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        queues: Sequence[batch.IJobQueue],
        job_definition_names: Sequence[str],
        log_group: logs.ILogGroup,
        alert_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        definitions = [
            stack.format_arn(service="batch", resource="job-definition", resource_name=f"{name}{revision}")
            for name in job_definition_names
            for revision in ("", ":*")
        ]
        objects = [bucket.arn_for_objects(prefix + "*") for prefix in (DATASETS_PREFIX, RUNS_PREFIX)]
        statements = [
            iam.PolicyStatement(sid="ListData", actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
            iam.PolicyStatement(
                sid="ReadWriteDatasetsAndRuns",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=objects,
            ),
            iam.PolicyStatement(
                sid="SubmitToThisStack",
                actions=["batch:SubmitJob", "batch:TagResource"],
                resources=[*(q.job_queue_arn for q in queues), *definitions],
            ),
            iam.PolicyStatement(
                sid="StopJobs",
                actions=["batch:CancelJob", "batch:TerminateJob", "batch:TagResource"],
                resources=[stack.format_arn(service="batch", resource="job", resource_name="*")],
            ),
            iam.PolicyStatement(
                sid="ReadTrainingLogs",
                actions=["logs:GetLogEvents", "logs:DescribeLogStreams", "logs:FilterLogEvents"],
                resources=[log_group.log_group_arn],  # "...:log-group:<name>:*": its streams too
            ),
            iam.PolicyStatement(
                sid="FindThisStack", actions=["cloudformation:DescribeStacks"], resources=[Aws.STACK_ID]
            ),
            iam.PolicyStatement(
                sid="SeeWhoIsAlerted", actions=["sns:ListSubscriptionsByTopic"], resources=[alert_topic.topic_arn]
            ),
            iam.PolicyStatement(sid="DescribeForDoctorAndMonitor", actions=UNSCOPED_READS, resources=["*"]),
            iam.PolicyStatement(sid="PriceRuns", actions=PRICE_READS, resources=["*"]),
            iam.PolicyStatement(
                sid="DoctorAsksIamAboutItself",  # may my policies make a sweep's calls? (only one's own)
                actions=["iam:SimulatePrincipalPolicy"],
                resources=[stack.format_arn(service="iam", region="", resource="user", resource_name="${aws:username}")],
            ),
        ]
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Run the ocrbatch CLI against {stack.stack_name}: upload, submit, monitor, download, doctor",
            statements=statements,
        )
        acknowledge_nag(
            self.policy,
            "AwsSolutions-IAM5[Resource::*]",
            "Describe/list calls of Batch, EC2, Service Quotas and ECR accept no resource but *; all are read-only.",
        )
        bucket_arn = f"<{stack.get_logical_id(bucket.node.default_child)}.Arn>"
        for prefix in (DATASETS_PREFIX, RUNS_PREFIX):
            acknowledge_nag(
                self.policy,
                f"AwsSolutions-IAM5[Resource::{bucket_arn}/{prefix}*]",
                f"Object keys under {prefix} are created at run time; the wildcard stays inside that prefix.",
            )
        # How cdk-nag writes this stack's Batch ARNs (partition and region are literals here, the account is not).
        batch_arn = f"arn:{stack.partition}:batch:{stack.region}:<AWS::AccountId>"
        acknowledge_nag(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{batch_arn}:job/*]",
            "Job ids are created at run time; Batch cannot scope cancel/terminate to a queue.",
        )
        for name in job_definition_names:
            acknowledge_nag(
                self.policy,
                f"AwsSolutions-IAM5[Resource::{batch_arn}:job-definition/{name}:*]",
                "Any revision of this stack's own job definition.",
            )
