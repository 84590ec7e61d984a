"""Batch capacity: the compute environments and the two job queues that feed them.

GPU queue: a Spot environment first (price-capacity-optimized: the pools least likely to be
reclaimed, at a low price) and, behind it in the same queue, an on-demand environment that takes
jobs Spot cannot place. CPU queue: one environment, Spot when Spot is on. Every environment scales
from 0 vCPUs, so an idle platform runs no instance; each is capped at ``max_vcpus``.

Instances start from the ECS-optimized Amazon Linux 2023 image (its NVIDIA variant for GPUs) with a
launch template that gives them an encrypted 100 GiB gp3 root volume (CUDA images are 10-15 GB and
the dataset and checkpoints are staged on local disk), IMDSv2 only, and the user data of
``stacks.instance_setup``: a watcher that passes EC2's two-minute Spot notice to the job containers as
SIGTERM, a two-minute ECS stop timeout, and a firewall rule that keeps every process but root's from
the instance metadata service. Jobs run in the host's network namespace, where IMDS's hop limit of 1
does not apply; that rule, and the job definitions running the trainer as uid 1000, are what keep a job
from the instance role. Jobs get their own role from the ECS credential endpoint instead. Each
environment names the template's current version, so a deploy that changes the template updates the
environments (Batch otherwise keeps the version it first saw).

A job the queue can never place (it asks for more than any instance or the vCPU cap allows) is
cancelled after 10 minutes with Batch's reason in its status; a job waiting for instances that EC2
cannot supply is cancelled after 4 hours, so it does not block the queue for ever.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Size
from aws_cdk import aws_batch as batch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks.findings import acknowledge_nag
from stacks.instance_setup import instance_user_data

ROOT_VOLUME = Size.gibibytes(100)
MISCONFIGURED_JOB_WAIT = Duration.minutes(10)  # the shortest Batch allows; these never fix themselves
NO_CAPACITY_WAIT = Duration.hours(4)
ECS_INSTANCE_POLICY = "service-role/AmazonEC2ContainerServiceforEC2Role"


class BatchCompute(Construct):
    """Compute environments (``gpu_spot`` is None without Spot, ``gpu_on_demand`` None without the
    fallback while Spot is on) and ``gpu_queue`` / ``cpu_queue``."""

    gpu_spot: batch.ManagedEc2EcsComputeEnvironment | None
    gpu_on_demand: batch.ManagedEc2EcsComputeEnvironment | None
    cpu: batch.ManagedEc2EcsComputeEnvironment
    gpu_queue: batch.JobQueue
    cpu_queue: batch.JobQueue
    instance_role: iam.Role
    launch_template: ec2.LaunchTemplate

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        prefix: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        gpu_instance_types: Sequence[str],
        cpu_instance_types: Sequence[str],
        max_vcpus: int,
        max_on_demand_gpu_vcpus: int,
        use_spot: bool,
        spot_bid_percentage: int,
        on_demand_gpu_fallback: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.instance_role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="ECS container instances of the training platform (the ECS agent, not the jobs)",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(ECS_INSTANCE_POLICY)],
        )
        acknowledge_nag(
            self.instance_role,
            f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{ECS_INSTANCE_POLICY}]",
            "AWS's policy for the ECS agent on Batch instances, kept current by AWS. Jobs share the host's "
            "network, so the IMDS hop limit does not shield these credentials; the user data's firewall rule "
            "does: only root (the ECS agent, the Spot notice watcher) may reach IMDS, and the job definitions "
            "run the trainer as uid 1000, which a submitter cannot change. Jobs use the job role instead.",
        )
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",  # the root device of the ECS-optimized AL2023 images
                    volume=ec2.BlockDeviceVolume.ebs(
                        ROOT_VOLUME.to_gibibytes(),
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        encrypted=True,
                        delete_on_termination=True,
                    ),
                )
            ],
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            # Still 1: it keeps containers on a bridge network (none of ours) from IMDS tokens.
            http_put_response_hop_limit=1,
            user_data=instance_user_data(),
        )

        def environment(construct_id, *, spot, instance_types, image_type, max_vcpus=max_vcpus):
            ce = batch.ManagedEc2EcsComputeEnvironment(
                self,
                construct_id,
                vpc=vpc,
                vpc_subnets=subnets,
                spot=spot,
                spot_bid_percentage=spot_bid_percentage if spot else None,
                allocation_strategy=(
                    batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
                    if spot
                    else batch.AllocationStrategy.BEST_FIT_PROGRESSIVE
                ),
                instance_types=[ec2.InstanceType(t) for t in instance_types],
                use_optimal_instance_classes=False,
                images=[batch.EcsMachineImage(image_type=image_type)],
                minv_cpus=0,
                maxv_cpus=max_vcpus,
                launch_template=self.launch_template,
                instance_role=self.instance_role,
                update_to_latest_image_version=True,
            )
            # The version number changes with every template change, so CloudFormation updates the
            # environment and Batch rolls its instances onto the new user data.
            ce.node.default_child.add_property_override(
                "ComputeResources.LaunchTemplate.Version", self.launch_template.latest_version_number
            )
            return ce

        gpu_image = batch.EcsMachineImageType.ECS_AL2023_NVIDIA
        self.gpu_spot = (
            environment("GpuSpot", spot=True, instance_types=gpu_instance_types, image_type=gpu_image)
            if use_spot
            else None
        )
        self.gpu_on_demand = (
            environment(
                "GpuOnDemand",
                spot=False,
                instance_types=gpu_instance_types,
                image_type=gpu_image,
                max_vcpus=max_on_demand_gpu_vcpus,
            )
            if on_demand_gpu_fallback or not use_spot
            else None
        )
        self.cpu = environment(
            "Cpu", spot=use_spot, instance_types=cpu_instance_types, image_type=batch.EcsMachineImageType.ECS_AL2023
        )
        gpu_environments = [ce for ce in (self.gpu_spot, self.gpu_on_demand) if ce is not None]
        self.gpu_queue = self._queue("GpuQueue", f"{prefix}-gpu-queue", gpu_environments)
        self.cpu_queue = self._queue("CpuQueue", f"{prefix}-cpu-queue", [self.cpu])

    def _queue(self, construct_id: str, name: str, environments) -> batch.JobQueue:
        def cancel_after(wait: Duration, reason: batch.JobStateTimeLimitActionsReason):
            return batch.JobStateTimeLimitAction(
                max_time=wait,
                reason=reason,
                state=batch.JobStateTimeLimitActionsState.RUNNABLE,
                action=batch.JobStateTimeLimitActionsAction.CANCEL,
            )

        reasons = batch.JobStateTimeLimitActionsReason
        return batch.JobQueue(
            self,
            construct_id,
            job_queue_name=name,
            compute_environments=[
                batch.OrderedComputeEnvironment(compute_environment=ce, order=order)
                for order, ce in enumerate(environments, start=1)
            ],
            job_state_time_limit_actions=[
                cancel_after(MISCONFIGURED_JOB_WAIT, reasons.COMPUTE_ENVIRONMENT_MAX_RESOURCE),
                cancel_after(MISCONFIGURED_JOB_WAIT, reasons.JOB_RESOURCE_REQUIREMENT),
                cancel_after(NO_CAPACITY_WAIT, reasons.INSUFFICIENT_INSTANCE_CAPACITY),
            ],
        )
