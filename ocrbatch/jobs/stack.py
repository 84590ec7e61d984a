"""Stack discovery: the names of the deployed stack's bucket, queues, job definitions and log group.

Every AWS command reads them from the stack's CloudFormation outputs (keys in
``ocrbatch.stack_outputs``), so nobody copies names by hand. Flags override single names, and the
seed's explicit flags (``--s3-bucket``, ``--job-queue``, ``--job-definition``) work without any stack.
A name that is needed but known neither way is reported as one line saying to ``cdk deploy`` or pass
``--stack`` (or the flag that supplies it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ocrbatch import stack_outputs as keys
from ocrbatch.errors import BadInput, NotFound

# Output key -> attribute of StackResources, and the flag that can stand in for it.
_ATTRIBUTES = {
    keys.BUCKET: ("bucket", "--s3-bucket"),
    keys.GPU_QUEUE: ("gpu_queue", "--job-queue"),
    keys.CPU_QUEUE: ("cpu_queue", "--job-queue"),
    keys.GPU_JOB_DEFINITION: ("gpu_job_definition", "--job-definition"),
    keys.MULTI_GPU_JOB_DEFINITION: ("multi_gpu_job_definition", "--job-definition"),
    keys.CPU_JOB_DEFINITION: ("cpu_job_definition", "--job-definition"),
    keys.LOG_GROUP: ("log_group", None),
    keys.IMAGE_URI: ("image_uri", None),
    keys.GPU_SPOT_COMPUTE_ENV: ("gpu_spot_compute_env", None),
    keys.GPU_ON_DEMAND_COMPUTE_ENV: ("gpu_on_demand_compute_env", None),
    keys.CPU_COMPUTE_ENV: ("cpu_compute_env", None),
}
_OUTPUT_KEY = {attr: key for key, (attr, _flag) in _ATTRIBUTES.items()}
_FLAG = {attr: flag for attr, flag in _ATTRIBUTES.values()}


@dataclass(frozen=True)
class StackResources:
    """What the commands need to know about the deployment; any name may be unknown (None)."""

    stack_name: str
    region: str
    found: bool  # the stack exists in this region
    status: str | None = None  # CloudFormation stack status, e.g. CREATE_COMPLETE
    outputs: dict[str, str] = field(default_factory=dict)  # raw outputs, for doctor
    bucket: str | None = None
    gpu_queue: str | None = None
    cpu_queue: str | None = None
    gpu_job_definition: str | None = None
    multi_gpu_job_definition: str | None = None
    cpu_job_definition: str | None = None
    log_group: str | None = None
    image_uri: str | None = None
    gpu_spot_compute_env: str | None = None
    gpu_on_demand_compute_env: str | None = None
    cpu_compute_env: str | None = None
    # Explicit names from the seed's flags: they win over the stack's queue/definition for any kind.
    job_queue: str | None = None
    job_definition: str | None = None

    @property
    def missing_outputs(self) -> tuple[str, ...]:
        return tuple(key for key in keys.REQUIRED if not self.outputs.get(key))

    @property
    def compute_environments(self) -> tuple[str, ...]:
        names = (self.gpu_spot_compute_env, self.gpu_on_demand_compute_env, self.cpu_compute_env)
        return tuple(name for name in names if name)

    def require(self, attribute: str) -> str:
        value = getattr(self, attribute)
        if value:
            return value
        flag = _FLAG.get(attribute)
        instead = f", or pass {flag}" if flag else ""
        if not self.found:
            raise NotFound(
                f"stack {self.stack_name!r} not found in {self.region}: deploy it with `cdk deploy` "
                f"(or name yours with --stack / --region){instead}"
            )
        raise NotFound(
            f"stack {self.stack_name!r} has no output {_OUTPUT_KEY[attribute]}: "
            f"redeploy it with `cdk deploy`{instead}"
        )

    def queue_for(self, kind: str) -> str:
        """The job queue for ``kind`` ("gpu" or "cpu")."""
        if self.job_queue:
            return self.job_queue
        return self.require("gpu_queue" if kind == "gpu" else "cpu_queue")

    def job_definition_for(self, kind: str, gpus: int = 1) -> str:
        if self.job_definition:
            return self.job_definition
        if kind == "gpu" and self.job_queue and _queue_name(self.job_queue) == _queue_name(self.cpu_queue):
            # The GPU definition would sit in the CPU queue's RUNNABLE until the stuck-job canceller ends it.
            raise BadInput(
                f"--job-queue {self.job_queue} is the stack's CPU queue, which has no GPUs: "
                "add --queue cpu (or pass --job-definition)"
            )
        if kind == "cpu":
            return self.require("cpu_job_definition")
        return self.require("multi_gpu_job_definition" if gpus > 1 else "gpu_job_definition")

    def known_queues(self) -> tuple[str, ...]:
        """Every queue jobs of this deployment may sit in (for `list` and `latest`)."""
        names = []
        for name in (self.job_queue, self.gpu_queue, self.cpu_queue):
            if name and name not in names:
                names.append(name)
        if not names:
            self.require("gpu_queue")  # raises the deploy hint
        return tuple(names)


def _queue_name(queue: str | None) -> str | None:
    """A job queue's name, whether given as a name or an ARN (``...:job-queue/NAME``)."""
    return queue.rsplit("/", 1)[-1] if queue else None


def read_stack(cloudformation, stack_name: str) -> tuple[str, dict[str, str]] | None:
    """``(status, outputs)`` of a stack, or None when no such stack exists."""
    from botocore.exceptions import ClientError

    try:
        response = cloudformation.describe_stacks(StackName=stack_name)
    except ClientError as err:
        error = err.response.get("Error", {})
        if error.get("Code") == "ValidationError" and "does not exist" in str(error.get("Message")):
            return None
        raise
    stacks = response.get("Stacks") or []
    if not stacks:
        return None
    stack = stacks[0]
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return stack.get("StackStatus", ""), outputs


def discover_stack(
    cloudformation,
    *,
    region: str,
    stack_name: str | None = None,
    bucket: str | None = None,
    job_queue: str | None = None,
    job_definition: str | None = None,
) -> StackResources:
    """Read the stack's outputs and apply the flag overrides.

    A stack named explicitly must exist. Without a name the default stack is tried; when it is
    absent the overrides alone are used, so the seed's ``--s3-bucket/--job-queue/--job-definition``
    work without a stack, and anything else needed raises the deploy hint on first use.
    """
    from ocrbatch.stack_outputs import DEFAULT_STACK_NAME

    name = stack_name or DEFAULT_STACK_NAME
    found = read_stack(cloudformation, name)
    if found is None and stack_name:
        raise NotFound(
            f"stack {stack_name!r} not found in {region}: deploy it with `cdk deploy`, "
            "or check --stack / --region / --profile"
        )
    status, outputs = found if found else (None, {})
    values = {attr: outputs.get(key) or None for key, (attr, _flag) in _ATTRIBUTES.items()}
    if bucket:
        values["bucket"] = bucket
    return StackResources(
        stack_name=name,
        region=region,
        found=found is not None,
        status=status,
        outputs=outputs,
        job_queue=job_queue,
        job_definition=job_definition,
        **values,
    )
