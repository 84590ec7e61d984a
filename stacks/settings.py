"""What the stack is built from: one frozen dataclass of plain values, filled by ``cdk_app`` (which reads
context and environment) or directly by tests. Stacks never read the environment themselves."""

from __future__ import annotations

from dataclasses import dataclass

from ocrbatch.stack_outputs import DEFAULT_PREFIX, DEFAULT_REGION

# Three 4-GPU types from three families, so a multi-GPU job is not tied to one thin Spot pool.
DEFAULT_GPU_INSTANCE_TYPES = ("p3.2xlarge", "p3.8xlarge", "g4dn.xlarge", "g4dn.2xlarge", "g4dn.12xlarge", "g5.12xlarge")
DEFAULT_CPU_INSTANCE_TYPES = ("c5.large", "c5.xlarge", "c5.2xlarge", "c5.4xlarge")
# Spot GPUs and CPUs, each: two 4-GPU or eight single-GPU jobs at once; ~$24/h at most at list price.
DEFAULT_MAX_VCPUS = 64
# On-demand GPUs are the expensive fallback: by default one single-GPU job at a time (a p3.2xlarge
# or two g4dn.xlarge), so a Spot drought cannot turn into a fleet billed at list price.
DEFAULT_MAX_ON_DEMAND_GPU_VCPUS = 8


@dataclass(frozen=True)
class ExistingVpc:
    vpc_id: str
    subnet_ids: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    prefix: str = DEFAULT_PREFIX
    region: str = DEFAULT_REGION
    existing_vpc: ExistingVpc | None = None
    availability_zones: tuple[str, ...] = ()  # of a new VPC; filled from the region when empty
    nat_gateways: int = 1  # of a new VPC: 1 shared by all zones, or one per zone
    gpu_instance_types: tuple[str, ...] = DEFAULT_GPU_INSTANCE_TYPES
    cpu_instance_types: tuple[str, ...] = DEFAULT_CPU_INSTANCE_TYPES
    max_vcpus: int = DEFAULT_MAX_VCPUS  # the Spot GPU and the CPU environments, each
    max_on_demand_gpu_vcpus: int = DEFAULT_MAX_ON_DEMAND_GPU_VCPUS
    use_spot: bool = True
    spot_bid_percentage: int = 100
    on_demand_gpu_fallback: bool = True
    destroy_data_on_delete: bool = False
    scan_on_push: bool = True  # ECR registry scanning of the CDK asset repository
    alert_email: str | None = None
    monthly_budget_usd: int | None = None

    def __post_init__(self):
        if not self.availability_zones:
            object.__setattr__(self, "availability_zones", tuple(f"{self.region}{z}" for z in "abc"))

    @property
    def stack_name(self) -> str:
        return f"{self.prefix}-infrastructure"
