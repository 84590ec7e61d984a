"""The training-data bucket (datasets and runs) and the log bucket beside it; secure by construction.

Decisions, so no caller has to remember them:
- Encryption: S3-managed keys (SSE-S3). Everything stored here is training data and models, not
  secrets; SSE-S3 costs nothing per request and needs no kms:Decrypt grant on the job role or the
  CLI's users. (The log bucket could not use KMS anyway: server access logs are delivered only into
  SSE-S3 buckets.)
- Public access blocked, TLS 1.2+ enforced by bucket policy, object ownership enforced (no ACLs).
- Versioning on, with noncurrent versions expiring after 7 days: a mistaken overwrite or delete can
  be undone for a week, while checkpoints rewritten every epoch do not pile up for ever.
- Incomplete multipart uploads are aborted after 7 days (an interrupted upload costs nothing).
- Server access logs (and the new VPC's flow logs) go to a separate log bucket, kept 365 days.
- Both buckets are kept on `cdk destroy` unless OCRBATCH_DESTROY_DATA_ON_DELETE says otherwise; then
  their objects are emptied first by CDK's auto-delete custom resource. Kept buckets keep their
  bucket policies too (TLS-only deny, log delivery), and have names CloudFormation generates, so a
  deploy after a destroy creates fresh buckets instead of failing on a name that still exists.

The job role's access is built from ``ocrbatch.layout``'s prefixes (:meth:`TrainingData.grant_training_access`),
so the IAM policy and the code that writes keys cannot drift apart.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ocrbatch.layout import DATASETS_PREFIX, RUNS_PREFIX, SWEEP_MANIFEST_NAME
from stacks.findings import acknowledge_nag, skip_checkov

ACCESS_LOGS_PREFIX = "training-data-access/"


class TrainingData(Construct):
    """``bucket``: datasets and runs; ``log_bucket``: S3 access logs and VPC flow logs."""

    bucket: s3.Bucket
    log_bucket: s3.Bucket

    def __init__(self, scope: Construct, construct_id: str, *, destroy_on_delete: bool) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.DESTROY if destroy_on_delete else RemovalPolicy.RETAIN
        self.log_bucket = s3.Bucket(
            self,
            "LogBucket",
            **_secure_defaults(),
            removal_policy=removal,
            auto_delete_objects=destroy_on_delete,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-logs",
                    expiration=Duration.days(365),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        # cdk-nag knows a log destination needs no logs of its own; checkov must be told.
        skip_checkov(self.log_bucket, "CKV_AWS_18", "This is the access-log bucket; logging into itself would loop.")
        skip_checkov(
            self.log_bucket, "CKV_AWS_21", "Logs are written once and expire after a year; versions add only cost."
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            **_secure_defaults(),
            versioned=True,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix=ACCESS_LOGS_PREFIX,
            removal_policy=removal,
            auto_delete_objects=destroy_on_delete,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="tidy-up",
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    noncurrent_version_expiration=Duration.days(7),
                    expired_object_delete_marker=True,
                )
            ],
        )
        for bucket in (self.log_bucket, self.bucket):
            # CDK deletes a bucket policy on destroy even when the bucket is kept: a kept bucket would
            # lose its TLS-only deny (and the log bucket its log delivery grant) with the stack.
            bucket.policy.apply_removal_policy(removal)

    def grant_training_access(self, role: iam.IRole) -> None:
        """Let a training job read datasets and its runs, and write runs: nothing else in any bucket.

        Reading ``runs/`` is what lets a retried job resume from its own checkpoints, and a sweep's
        child read its settings in the sweep's manifest (``runs/<sweep>/sweep.json``), which no job
        may rewrite or delete: a child cannot change what its siblings train.
        """
        datasets, runs = (self.bucket.arn_for_objects(p + "*") for p in (DATASETS_PREFIX, RUNS_PREFIX))
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ReadDatasetsAndRuns", actions=["s3:GetObject"], resources=[datasets, runs])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteRuns", actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[runs]
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SweepManifestsAreReadOnly",
                effect=iam.Effect.DENY,
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[self.bucket.arn_for_objects(f"{RUNS_PREFIX}*/{SWEEP_MANIFEST_NAME}")],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListDatasetsAndRuns",
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [DATASETS_PREFIX + "*", RUNS_PREFIX + "*"]}},
            )
        )
        bucket_arn = f"<{Stack.of(self).get_logical_id(self.bucket.node.default_child)}.Arn>"
        for area in (DATASETS_PREFIX, RUNS_PREFIX):
            acknowledge_nag(
                role,
                f"AwsSolutions-IAM5[Resource::{bucket_arn}/{area}*]",
                f"Object keys under {area} are created at run time; the wildcard stays inside that prefix "
                "of this bucket.",
            )


def _secure_defaults() -> dict:
    return dict(
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    )

