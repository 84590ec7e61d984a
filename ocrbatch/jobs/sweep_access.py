"""`doctor`'s answer to "may I run a sweep here?", asked of IAM without submitting anything.

A sweep needs what `submit` needs plus what only sweeps call: writing the sweep manifest beside the runs,
listing an array job's children (``ListJobs`` by ``arrayJobId``) and cancelling or terminating them.
IAM's policy simulator evaluates the caller's own policies (identity policies, boundaries) for those
calls on this stack's queue, job definition and bucket; nothing is created. Service control policies
and the bucket's own policy are not in that answer, so an "ok" means "IAM lets you", not "nothing will".
"""

from __future__ import annotations

import re

from ocrbatch import stack_outputs as keys
from ocrbatch.jobs.check_result import FAIL, OK, SKIP, WARN, Check, reason
from ocrbatch.layout import SweepLayout

_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+$")
PROBE_SWEEP = SweepLayout("doctor-probe-sweep")


def principal_arn(caller_arn: str) -> str | None:
    """The IAM entity to simulate for ``GetCallerIdentity``'s ARN: a user as it is, an assumed role's
    session as its role (a role with a path cannot be told from the session ARN: then None); the
    account root (allowed everything) None too."""
    match = _ASSUMED_ROLE.match(caller_arn)
    if match:
        return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}"
    if ":user/" in caller_arn:
        return caller_arn
    return None


def sweep_calls(*, partition: str, region: str, account: str, queue: str, definition: str, bucket: str) -> list[tuple[str, str]]:
    """(action, resource ARN) of every call a sweep makes that a single job does not make alike."""

    def batch_arn(kind: str, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:{partition}:batch:{region}:{account}:{kind}/{name}"

    job = f"arn:{partition}:batch:{region}:{account}:job/doctor-probe"
    return [
        ("batch:SubmitJob", batch_arn("job-queue", queue)),
        ("batch:SubmitJob", batch_arn("job-definition", definition)),
        ("s3:PutObject", f"arn:{partition}:s3:::{bucket}/{PROBE_SWEEP.manifest}"),
        ("batch:ListJobs", "*"),
        ("batch:CancelJob", job),
        ("batch:TerminateJob", job),
    ]


def denied_sweep_calls(iam, principal: str, calls: list[tuple[str, str]]) -> list[str]:
    """``"action on resource"`` for each call IAM's simulator does not allow ``principal``."""
    denied = []
    for action, resource in calls:
        results = iam.simulate_principal_policy(
            PolicySourceArn=principal, ActionNames=[action], ResourceArns=[resource]
        )["EvaluationResults"]
        if not results or any(result["EvalDecision"] != "allowed" for result in results):
            denied.append(f"{action} on {resource}")
    return denied


def check_sweep_access(iam, identity: dict, region: str, outputs: dict, bucket: str) -> Check:
    """`doctor`'s line: may the caller make every call of :func:`sweep_calls` (one line, ok, fail or warn)."""
    label, caller = "sweeps (array jobs)", identity["Arn"]
    principal = principal_arn(caller)
    if principal is None:
        return Check(label, SKIP, f"{caller} is not an IAM user or role session IAM can simulate; not checked")
    calls = sweep_calls(partition=caller.split(":")[1], region=region, account=identity["Account"],
                        queue=outputs[keys.GPU_QUEUE], definition=outputs[keys.GPU_JOB_DEFINITION], bucket=bucket)
    try:
        denied = denied_sweep_calls(iam, principal, calls)
    except Exception as exc:  # noqa: BLE001 - not knowing is a warning, not a failure
        return Check(label, WARN, f"could not ask IAM ({reason(exc)}; needs iam:SimulatePrincipalPolicy): not checked")
    if denied:
        return Check(label, FAIL, f"{principal} may not call {'; '.join(denied)}: attach the stack's CliUserPolicyArn")
    return Check(label, OK, "may submit array jobs, write sweep manifests, list, cancel and terminate children")
