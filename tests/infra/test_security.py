"""Security checks on the synthesized infrastructure: cdk-nag, cfn-lint, checkov, and the job role's reach.

Every finding is fixed or acknowledged on its own resource with a reason; these tests fail on any
finding left open and on any acknowledgment made stack-wide or without a reason.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import cfnlint.api
import pytest
from aws_cdk import Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from ocrbatch import stack_outputs
from ocrbatch.layout import DATASETS_PREFIX, RUNS_PREFIX, SweepLayout

from .conftest import REPO_ROOT, new_app

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"

# --- cdk-nag ----------------------------------------------------------------------------------------


def test_cdk_nag_aws_solutions_leaves_no_finding_open(platform):
    report = AwsSolutionsChecks(verbose=True).validate_scope(platform.app)
    open_findings = [f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}" for v in report.violations]
    assert open_findings == []
    assert report.success


def test_cdk_nag_is_live_and_acknowledgments_are_specific():
    """The same pack flags an insecure bucket and a wildcard policy, so a clean report means something."""
    stack = Stack(new_app(), "Insecure")
    s3.Bucket(stack, "Bucket")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    rules = {v.rule_name for v in AwsSolutionsChecks().validate_scope(stack).violations}
    assert {"AwsSolutions-S1", "AwsSolutions-S10", "AwsSolutions-IAM5[Resource::*]"} <= rules


def test_our_acknowledgments_sit_on_resources_with_reasons(platform):
    acknowledged = []
    for construct in platform.app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for rule, reason in entry.data.items():
                if "AwsSolutions" not in rule:
                    continue  # CDK's own acknowledgments for its built-in template validator
                acknowledged.append(rule)
                assert not Stack.is_stack(construct), f"{rule} acknowledged stack-wide"
                assert len(reason.split()) >= 5, f"{rule} on {construct.node.path} needs a real reason"
    assert acknowledged  # the IAM4/IAM5 findings above were really acknowledged, not absent


# --- cfn-lint ---------------------------------------------------------------------------------------


def test_cfn_lint_is_clean(platform):
    matches = cfnlint.api.lint(platform.template_path.read_text(), regions=[platform.settings.region])
    assert [f"{m.rule.id} {m.message} ({m.path})" for m in matches] == []


def test_cfn_lint_ignores_are_narrow(platform):
    for logical_id, resource in platform.document["Resources"].items():
        ignored = resource.get("Metadata", {}).get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
        # W3010: subnets name their zones so synth works offline; W3005: CDK's provider handlers.
        allowed = {"AWS::EC2::Subnet": {"W3010"}, "AWS::Lambda::Function": {"W3005"}}.get(resource["Type"], set())
        assert set(ignored) <= allowed, logical_id


# --- checkov ----------------------------------------------------------------------------------------


needs_checkov = pytest.mark.skipif(
    not CHECKOV.exists(),
    reason="checkov lives in its own venv (it pins an old boto3): "
    "python -m venv .venv-checkov && .venv-checkov/bin/pip install checkov==3.3.30",
)


def assert_checkov_clean(template_path) -> None:
    result = subprocess.run(
        [str(CHECKOV), "--file", str(template_path), "--framework", "cloudformation",
         "--output", "json", "--compact", "--skip-download"],  # --skip-download: no Prisma Cloud calls
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    results = report["results"]
    failed = [f"{c['check_id']} {c['resource']}" for c in results["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 50, "checkov ran (almost) no checks"
    assert report["summary"]["parsing_errors"] == 0
    for skipped in results["skipped_checks"]:
        assert skipped["check_result"].get("suppress_comment"), f"{skipped['check_id']} skipped without a reason"


@needs_checkov
def test_checkov_finds_nothing_unacknowledged(platform):
    assert_checkov_clean(platform.template_path)


@needs_checkov
def test_checkov_finds_nothing_unacknowledged_with_every_setting_changed(variant_platform):
    assert_checkov_clean(variant_platform.template_path)


def test_checkov_skips_carry_reasons(platform):
    for logical_id, resource in platform.document["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV") and len(skip["comment"].split()) >= 5, logical_id


# --- the job role's reach ---------------------------------------------------------------------------

BUCKET_ARN = "arn:aws:s3:::the-training-bucket"
OTHER_BUCKET_ARN = "arn:aws:s3:::someone-elses-bucket"


def job_role_statements(platform) -> list[dict]:
    definition = platform.referenced(platform.document["Outputs"][stack_outputs.GPU_JOB_DEFINITION]["Value"])
    role_ref = definition["Properties"]["ContainerProperties"]["JobRoleArn"]
    role_id = role_ref["Fn::GetAtt"][0]
    role = platform.document["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    statements = []
    for policy in platform.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    # Every job definition uses the same job role.
    for key in (stack_outputs.MULTI_GPU_JOB_DEFINITION, stack_outputs.CPU_JOB_DEFINITION):
        other = platform.referenced(platform.document["Outputs"][key]["Value"])
        assert other["Properties"]["ContainerProperties"]["JobRoleArn"] == role_ref
    return statements


def resolve_arn(platform, value) -> str:
    """Render a policy resource to a plain ARN, naming this stack's data bucket BUCKET_ARN."""
    bucket_id = platform.document["Outputs"][stack_outputs.BUCKET]["Value"]["Ref"]
    if isinstance(value, str):
        return value
    if value == {"Fn::GetAtt": [bucket_id, "Arn"]}:
        return BUCKET_ARN
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve_arn(platform, part) for part in parts)
    return f"<unresolved {json.dumps(value)}>"


def as_list(value):
    return value if isinstance(value, list) else [value]


def allowed(platform, statements, action: str, resource: str, s3_prefix: str | None = None) -> bool:
    """IAM's rule for these statements: some Allow matches and no Deny does (an explicit deny wins)."""
    allows = [s for s in statements if s["Effect"] == "Allow"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert len(allows) + len(denies) == len(statements)
    return _matches(platform, allows, action, resource, s3_prefix) and not _matches(
        platform, denies, action, resource, s3_prefix
    )


def _matches(platform, statements, action: str, resource: str, s3_prefix: str | None) -> bool:
    for statement in statements:
        assert "NotAction" not in statement and "NotResource" not in statement
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in as_list(statement["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(resource, resolve_arn(platform, r)) for r in as_list(statement["Resource"])):
            continue
        condition = statement.get("Condition")
        if condition:
            assert set(condition) == {"StringLike"} and set(condition["StringLike"]) == {"s3:prefix"}
            if s3_prefix is None or not any(
                fnmatch.fnmatchcase(s3_prefix, p) for p in as_list(condition["StringLike"]["s3:prefix"])
            ):
                continue
        return True
    return False


def test_job_role_has_no_wildcard_resource_or_action(platform):
    for statement in job_role_statements(platform):
        for resource in as_list(statement["Resource"]):
            assert resolve_arn(platform, resource).startswith(BUCKET_ARN), resource
        for action in as_list(statement["Action"]):
            assert action.startswith("s3:") and "*" not in action


def test_job_role_reads_datasets_and_runs_and_writes_only_runs(platform):
    statements = job_role_statements(platform)

    def can(action, key):
        return allowed(platform, statements, action, f"{BUCKET_ARN}/{key}")

    dataset_shard = f"{DATASETS_PREFIX}pinball/shards/abc.tar"
    checkpoint = f"{RUNS_PREFIX}run-1/checkpoints/latest.pdparams"
    assert can("s3:GetObject", dataset_shard)
    assert can("s3:GetObject", checkpoint)  # resuming after a Spot reclaim reads the run's own prefix
    assert can("s3:PutObject", checkpoint)
    assert can("s3:AbortMultipartUpload", checkpoint)
    assert not can("s3:PutObject", dataset_shard)  # datasets are never written by a job
    assert not can("s3:DeleteObject", dataset_shard)
    assert not can("s3:DeleteObject", checkpoint)
    assert not can("s3:GetObject", "elsewhere/secret.txt")
    assert not can("s3:PutObject", "elsewhere/x")
    assert not can("s3:PutBucketPolicy", "")


def test_a_sweep_child_reads_the_sweep_manifest_and_no_job_can_rewrite_it(platform):
    statements = job_role_statements(platform)
    manifest = f"{BUCKET_ARN}/{SweepLayout('20261130-060000-pinball-sweep-abc123').manifest}"
    child_checkpoint = f"{BUCKET_ARN}/{SweepLayout('20261130-060000-pinball-sweep-abc123').child(3).checkpoints}x"
    assert allowed(platform, statements, "s3:GetObject", manifest)
    assert not allowed(platform, statements, "s3:PutObject", manifest)
    assert not allowed(platform, statements, "s3:DeleteObject", manifest)
    assert allowed(platform, statements, "s3:PutObject", child_checkpoint)  # each child writes its own run
    assert allowed(platform, statements, "s3:GetObject", child_checkpoint)  # and resumes from it


def test_job_role_cannot_touch_another_bucket(platform):
    statements = job_role_statements(platform)
    for action in ("s3:GetObject", "s3:PutObject"):
        assert not allowed(platform, statements, action, f"{OTHER_BUCKET_ARN}/{DATASETS_PREFIX}x")
    assert not allowed(platform, statements, "s3:ListBucket", OTHER_BUCKET_ARN, DATASETS_PREFIX)


def test_job_role_lists_only_its_areas(platform):
    statements = job_role_statements(platform)
    assert allowed(platform, statements, "s3:ListBucket", BUCKET_ARN, f"{DATASETS_PREFIX}pinball/versions/")
    assert allowed(platform, statements, "s3:ListBucket", BUCKET_ARN, f"{RUNS_PREFIX}run-1/checkpoints/")
    assert not allowed(platform, statements, "s3:ListBucket", BUCKET_ARN, "")
    assert not allowed(platform, statements, "s3:ListBucket", BUCKET_ARN, None)
    assert not allowed(platform, statements, "s3:ListBucket", BUCKET_ARN, "logs/")


def test_policy_checker_itself_can_say_yes_and_no():
    """Guards the inspection above against a checker that denies (or allows) everything."""

    class FakePlatform:
        document = {"Outputs": {stack_outputs.BUCKET: {"Value": {"Ref": "B"}}}}

    everything = {"Fn::Join": ["", [{"Fn::GetAtt": ["B", "Arn"]}, "/*"]]}
    statements = [{"Effect": "Allow", "Action": "s3:*", "Resource": everything}]
    assert allowed(FakePlatform, statements, "s3:DeleteObject", f"{BUCKET_ARN}/{DATASETS_PREFIX}x")
    assert not allowed(FakePlatform, statements, "s3:DeleteObject", f"{OTHER_BUCKET_ARN}/x")
    deny = {"Fn::Join": ["", [{"Fn::GetAtt": ["B", "Arn"]}, "/runs/*/sweep.json"]]}
    statements.append({"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": deny})
    assert not allowed(FakePlatform, statements, "s3:PutObject", f"{BUCKET_ARN}/runs/s/sweep.json")
    assert allowed(FakePlatform, statements, "s3:PutObject", f"{BUCKET_ARN}/runs/s-1/progress.json")
