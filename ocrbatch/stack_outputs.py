"""Output keys of the deployed stack: written by ``stacks``, read by the CLI's stack discovery.

Both sides import these names, so renaming one cannot silently break the other.
"""

DEFAULT_PREFIX = "pinball-ocr-training"
DEFAULT_STACK_NAME = f"{DEFAULT_PREFIX}-infrastructure"
# Where the stack is deployed, and where the CLI looks, when no region is configured.
DEFAULT_REGION = "us-west-2"

BUCKET = "BucketName"
GPU_QUEUE = "GpuJobQueue"
CPU_QUEUE = "CpuJobQueue"
GPU_JOB_DEFINITION = "GpuJobDefinition"
MULTI_GPU_JOB_DEFINITION = "MultiGpuJobDefinition"
CPU_JOB_DEFINITION = "CpuJobDefinition"
LOG_GROUP = "LogGroupName"
REGION = "Region"
IMAGE_URI = "TrainingImageUri"
GPU_SPOT_COMPUTE_ENV = "GpuSpotComputeEnvironment"
GPU_ON_DEMAND_COMPUTE_ENV = "GpuOnDemandComputeEnvironment"
CPU_COMPUTE_ENV = "CpuComputeEnvironment"
ALERT_TOPIC = "AlertTopicArn"
CLI_USER_POLICY = "CliUserPolicyArn"

# Every key the CLI needs; discovery reports the ones a stack lacks.
REQUIRED = (BUCKET, GPU_QUEUE, CPU_QUEUE, GPU_JOB_DEFINITION, CPU_JOB_DEFINITION, LOG_GROUP, REGION)
ALL = REQUIRED + (MULTI_GPU_JOB_DEFINITION, IMAGE_URI, GPU_SPOT_COMPUTE_ENV, GPU_ON_DEMAND_COMPUTE_ENV, CPU_COMPUTE_ENV, ALERT_TOPIC, CLI_USER_POLICY)
