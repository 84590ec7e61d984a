"""What a training job is: the job definitions, their roles, and the log group they write to.

Three definitions share one image, one pair of roles and one retry policy and differ only in size:
``<prefix>-gpu`` (1 GPU), ``<prefix>-gpu-multi`` (4 GPUs, sized to fit a p3.8xlarge as well as the
192 GiB 4-GPU g4dn/g5 types) and ``<prefix>-cpu``. The image's entrypoint runs the trainer; what to
train is given per job at submit time as ``OCRBATCH_*`` environment variables
(``ocrbatch.trainer.spec``), so no definition carries a command.

Retries: 3 attempts, spent only where another attempt helps, and the trainer resumes from its last
synced checkpoint: a Spot reclaim, whether the attempt ended on the notice (the host watcher's SIGTERM,
after which the trainer checkpoints and exits 143) or with the host (``Host EC2*``), and an image pull
failure. Any other failure exits at once; a bug does not get to run three times on a GPU. Batch checks
the rules in order and takes the first that matches (``retry_rules`` below). A 143 from a user's
``cancel`` or from the job timeout is never retried: Batch does not retry a job it terminated.

Shared memory: Paddle's DataLoader workers pass batches through /dev/shm, and Docker's 64 MiB default
kills them with a bus error, so each definition sets it explicitly. An init process forwards Batch's
SIGTERM to the trainer (which syncs a checkpoint) and reaps exited DataLoader workers. The trainer runs as
uid 1000 whatever the image says: the instances keep every user but root from the metadata service.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from ocrbatch.host_facts import CONTAINER_DIR, HOST_DIR
from ocrbatch.stop_window import EXIT_STOPPED
from stacks.findings import acknowledge_nag, skip_checkov

RETRY_ATTEMPTS = 3
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
LOG_STREAM_PREFIX = "training"
JOB_USER = "1000"  # the image's trainer user; the instances' firewall keeps it from IMDS (stacks.compute)


def retry_rules() -> list[batch.RetryStrategy]:
    """Batch's evaluateOnExit, first match wins (at most 5; a failure no rule matches is retried)."""
    return [
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.SPOT_INSTANCE_RECLAIMED),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.custom(on_exit_code=str(EXIT_STOPPED))),
        batch.RetryStrategy.of(batch.Action.RETRY, batch.Reason.CANNOT_PULL_CONTAINER),
        # A container that ran and failed on its own; then anything else, so nothing falls through.
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_exit_code="*")),
        batch.RetryStrategy.of(batch.Action.EXIT, batch.Reason.custom(on_reason="*")),
    ]


@dataclass(frozen=True)
class JobSize:
    suffix: str
    vcpus: int
    memory: Size
    gpus: int
    shared_memory: Size
    timeout: Duration


# 15 GiB, not 16: ECS registers a little less than the installed memory (kernel, agent), so a
# 16 GiB job could never be placed on a g4dn.xlarge (16 GiB installed), the cheapest GPU type.
GPU = JobSize("gpu", 4, Size.gibibytes(15), 1, Size.gibibytes(6), Duration.hours(4))
# 4 GPUs: 30 of the p3.8xlarge's 32 vCPUs, leaving 2 for the ECS agent and Docker; memory below
# what ECS registers on a p3.8xlarge (244 GiB installed).
MULTI_GPU = JobSize("gpu-multi", 30, Size.gibibytes(176), 4, Size.gibibytes(32), Duration.hours(4))
# Fits a c5.xlarge (8 GiB, of which ECS registers ~7.4); CPU training is slower, hence the longer limit.
CPU = JobSize("cpu", 4, Size.gibibytes(6), 0, Size.gibibytes(2), Duration.hours(8))


class TrainingJobs(Construct):
    """``gpu``, ``gpu_multi``, ``cpu`` job definitions; ``log_group``; ``job_role`` (granted S3 access by
    the stack) and ``execution_role`` (image pull and log writing, granted by CDK as it wires them)."""

    gpu: batch.EcsJobDefinition
    gpu_multi: batch.EcsJobDefinition
    cpu: batch.EcsJobDefinition
    log_group: logs.LogGroup
    job_role: iam.Role
    execution_role: iam.Role

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        image: ecs.ContainerImage,
        bucket_name: str,
        destroy_on_delete: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = prefix
        self._image = image
        # AWS_REGION: the trainer cannot ask the instance metadata service (see stacks.compute).
        self._environment = {"S3_BUCKET": bucket_name, "AWS_REGION": Aws.REGION}
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            # No fixed name: a kept log group would make the next deploy after `cdk destroy` fail with
            # "already exists". The CLI finds the generated name in the stack's outputs.
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY if destroy_on_delete else RemovalPolicy.RETAIN,
        )
        skip_checkov(
            self.log_group,
            "CKV_AWS_158",
            "Training logs hold no secrets; CloudWatch Logs encrypts them at rest with its own keys.",
        )
        tasks = iam.ServicePrincipal("ecs-tasks.amazonaws.com")
        self.job_role = iam.Role(
            self, "JobRole", assumed_by=tasks, description="Training jobs: read datasets/, read and write runs/"
        )
        self.execution_role = iam.Role(
            self, "ExecutionRole", assumed_by=tasks, description="ECS, for training jobs: pull the image, write logs"
        )
        acknowledge_nag(
            self.execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; image pulls themselves are scoped "
            "to the one repository.",
        )
        self.gpu = self._definition(GPU)
        self.gpu_multi = self._definition(MULTI_GPU)
        self.cpu = self._definition(CPU)

    def definition_name(self, size: JobSize) -> str:
        """The definition's name as plain text (its ``job_definition_name`` is a deploy-time token)."""
        return f"{self._prefix}-{size.suffix}"

    def _definition(self, size: JobSize) -> batch.EcsJobDefinition:
        scope = Construct(self, size.suffix.title().replace("-", ""))
        container = batch.EcsEc2ContainerDefinition(
            scope,
            "Container",
            image=self._image,
            cpu=size.vcpus,
            memory=size.memory,
            gpu=size.gpus or None,
            environment=self._environment,
            user=JOB_USER,
            job_role=self.job_role,
            execution_role=self.execution_role,
            linux_parameters=batch.LinuxParameters(
                scope, "LinuxParameters", shared_memory_size=size.shared_memory, init_process_enabled=True
            ),
            logging=ecs.LogDriver.aws_logs(stream_prefix=LOG_STREAM_PREFIX, log_group=self.log_group),
            # what the instance recorded about itself, for pricing the attempt (ocrbatch.host_facts)
            volumes=[batch.EcsVolume.host(name="host-facts", host_path=HOST_DIR, container_path=CONTAINER_DIR,
                                          readonly=True)],
        )
        return batch.EcsJobDefinition(
            scope,
            "Definition",
            job_definition_name=self.definition_name(size),
            container=container,
            timeout=size.timeout,
            propagate_tags=True,
            retry_attempts=RETRY_ATTEMPTS,
            retry_strategies=retry_rules(),
        )
