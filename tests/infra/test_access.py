"""The CLI users' managed policy: what `ocrbatch` calls, on this stack's resources, and nothing that
would let a user hand a job another role or image."""

from __future__ import annotations

from ocrbatch import stack_outputs
from ocrbatch.layout import DATASETS_PREFIX, RUNS_PREFIX


def policy_statements(platform) -> dict[str, dict]:
    policy = platform.referenced(platform.document["Outputs"][stack_outputs.CLI_USER_POLICY]["Value"])
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def actions(statement) -> set[str]:
    found = statement["Action"]
    return {found} if isinstance(found, str) else set(found)


def test_no_role_passing_and_no_new_job_definitions(platform):
    granted = {a for s in policy_statements(platform).values() for a in actions(s)}
    iam_actions = {a for a in granted if a.startswith("iam:")}
    assert iam_actions == {"iam:SimulatePrincipalPolicy"}, "SubmitJob passes no role; nothing else should"
    assert "batch:RegisterJobDefinition" not in granted
    assert not [a for a in granted if a.endswith(":*") or a == "*"]
    assert all(s["Effect"] == "Allow" for s in policy_statements(platform).values())


def test_submit_only_to_this_stacks_queues_and_definitions(platform):
    submit = policy_statements(platform)["SubmitToThisStack"]
    assert "batch:SubmitJob" in actions(submit)
    queue_resources = [r for r in submit["Resource"] if "Fn::GetAtt" in r]
    outputs = platform.document["Outputs"]
    assert sorted(platform.referenced(r)["Properties"]["JobQueueName"] for r in queue_resources) == sorted(
        platform.referenced(outputs[k]["Value"])["Properties"]["JobQueueName"]
        for k in (stack_outputs.GPU_QUEUE, stack_outputs.CPU_QUEUE)
    )
    definitions = [r["Fn::Join"][1][-1] for r in submit["Resource"] if "Fn::Join" in r]
    names = [
        platform.referenced(outputs[k]["Value"])["Properties"]["JobDefinitionName"]
        for k in (stack_outputs.GPU_JOB_DEFINITION, stack_outputs.MULTI_GPU_JOB_DEFINITION, stack_outputs.CPU_JOB_DEFINITION)
    ]
    assert sorted(definitions) == sorted(f":job-definition/{n}{rev}" for n in names for rev in ("", ":*"))


def test_data_access_stays_inside_datasets_and_runs(platform):
    statements = policy_statements(platform)
    bucket = platform.document["Outputs"][stack_outputs.BUCKET]["Value"]
    objects = statements["ReadWriteDatasetsAndRuns"]["Resource"]
    suffixes = sorted(r["Fn::Join"][1][1] for r in objects)
    assert suffixes == sorted(f"/{p}*" for p in (DATASETS_PREFIX, RUNS_PREFIX))
    assert all(platform.resource(r["Fn::Join"][1][0]) is platform.referenced(bucket) for r in objects)
    assert platform.resource(statements["ListData"]["Resource"]) is platform.referenced(bucket)
    s3_actions = {a for s in statements.values() for a in actions(s) if a.startswith("s3:")}
    assert s3_actions == {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}


def test_only_reads_are_unscoped(platform):
    for statement in policy_statements(platform).values():
        if statement["Resource"] == "*":
            assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in actions(statement))


def test_runs_can_be_priced_and_nothing_more(platform):
    price = policy_statements(platform)["PriceRuns"]
    assert actions(price) == {"ec2:DescribeSpotPriceHistory"} and price["Resource"] == "*"
    granted = {a for s in policy_statements(platform).values() for a in actions(s)}
    assert not {a for a in granted if a.startswith("pricing:")}, "on-demand prices come from a table, not the Pricing API"


def test_doctor_may_simulate_its_callers_own_policies_and_no_one_elses(platform):
    """`doctor` asks IAM whether a sweep's calls are allowed: about the calling user alone."""
    statement = policy_statements(platform)["DoctorAsksIamAboutItself"]
    assert actions(statement) == {"iam:SimulatePrincipalPolicy"}
    resource = statement["Resource"]
    rendered = resource if isinstance(resource, str) else "".join(
        part if isinstance(part, str) else "<token>" for part in resource["Fn::Join"][1]
    )
    assert rendered.endswith(":user/${aws:username}") and "*" not in rendered
