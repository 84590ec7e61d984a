"""The training platform's one stack: composes the constructs, grants between them, publishes outputs.

Outputs use exactly the keys of ``ocrbatch.stack_outputs`` as their logical ids, which is how the CLI
finds the bucket, queues, job definitions and log group without anyone copying a name.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Environment, Stack
from constructs import Construct

from ocrbatch import stack_outputs
from stacks.access import CliAccess
from stacks.alerts import Alerts
from stacks.compute import BatchCompute
from stacks.findings import accept_cdk_providers
from stacks.jobs import CPU, GPU, MULTI_GPU, TrainingJobs
from stacks.network import Network
from stacks.settings import Settings
from stacks.storage import TrainingData
from stacks.training_image import TrainingImage


class TrainingPlatformStack(Stack):
    def __init__(self, scope: Construct, *, settings: Settings) -> None:
        super().__init__(
            scope,
            settings.stack_name,
            # The account stays unresolved (Aws.ACCOUNT_ID at deploy time), so synth needs no credentials.
            env=Environment(region=settings.region),
            description="ocrbatch: PaddleOCR training on AWS Batch (Spot GPUs); no instance runs while idle",
        )
        self.data = TrainingData(self, "TrainingData", destroy_on_delete=settings.destroy_data_on_delete)
        existing = settings.existing_vpc
        self.network = Network(
            self,
            "Network",
            availability_zones=settings.availability_zones,
            nat_gateways=settings.nat_gateways,
            flow_log_bucket=self.data.log_bucket,
            existing_vpc_id=existing.vpc_id if existing else None,
            existing_subnet_ids=existing.subnet_ids if existing else (),
        )
        self.image = TrainingImage(self, "TrainingImage", scan_on_push=settings.scan_on_push)
        self.compute = BatchCompute(
            self,
            "Compute",
            prefix=settings.prefix,
            vpc=self.network.vpc,
            subnets=self.network.subnets,
            gpu_instance_types=settings.gpu_instance_types,
            cpu_instance_types=settings.cpu_instance_types,
            max_vcpus=settings.max_vcpus,
            max_on_demand_gpu_vcpus=settings.max_on_demand_gpu_vcpus,
            use_spot=settings.use_spot,
            spot_bid_percentage=settings.spot_bid_percentage,
            on_demand_gpu_fallback=settings.on_demand_gpu_fallback,
        )
        self.jobs = TrainingJobs(
            self,
            "Jobs",
            prefix=settings.prefix,
            image=self.image.container_image,
            bucket_name=self.data.bucket.bucket_name,
            destroy_on_delete=settings.destroy_data_on_delete,
        )
        self.alerts = Alerts(
            self,
            "Alerts",
            queues=[self.compute.gpu_queue, self.compute.cpu_queue],
            compute_environments=[
                ce for ce in (self.compute.gpu_spot, self.compute.gpu_on_demand, self.compute.cpu) if ce is not None
            ],
            email=settings.alert_email,
            monthly_budget_usd=settings.monthly_budget_usd,
        )
        self.data.grant_training_access(self.jobs.job_role)
        self.cli_access = CliAccess(
            self,
            "CliAccess",
            bucket=self.data.bucket,
            queues=[self.compute.gpu_queue, self.compute.cpu_queue],
            job_definition_names=[self.jobs.definition_name(size) for size in (GPU, MULTI_GPU, CPU)],
            log_group=self.jobs.log_group,
            alert_topic=self.alerts.topic,
        )
        accept_cdk_providers(self)
        self._publish_outputs()

    def _publish_outputs(self) -> None:
        compute, jobs = self.compute, self.jobs
        values = {
            stack_outputs.BUCKET: self.data.bucket.bucket_name,
            stack_outputs.GPU_QUEUE: compute.gpu_queue.job_queue_name,
            stack_outputs.CPU_QUEUE: compute.cpu_queue.job_queue_name,
            stack_outputs.GPU_JOB_DEFINITION: jobs.gpu.job_definition_name,
            stack_outputs.MULTI_GPU_JOB_DEFINITION: jobs.gpu_multi.job_definition_name,
            stack_outputs.CPU_JOB_DEFINITION: jobs.cpu.job_definition_name,
            stack_outputs.LOG_GROUP: jobs.log_group.log_group_name,
            stack_outputs.REGION: Aws.REGION,
            stack_outputs.IMAGE_URI: self.image.asset.image_uri,
            stack_outputs.CPU_COMPUTE_ENV: compute.cpu.compute_environment_arn,
            stack_outputs.ALERT_TOPIC: self.alerts.topic.topic_arn,
            stack_outputs.CLI_USER_POLICY: self.cli_access.policy.managed_policy_arn,
        }
        if compute.gpu_spot is not None:
            values[stack_outputs.GPU_SPOT_COMPUTE_ENV] = compute.gpu_spot.compute_environment_arn
        if compute.gpu_on_demand is not None:
            values[stack_outputs.GPU_ON_DEMAND_COMPUTE_ENV] = compute.gpu_on_demand.compute_environment_arn
        for key, value in values.items():
            CfnOutput(self, key, value=value)
