"""Settings: defaults, context over environment, and one clear line for every bad value."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cdk_app.settings import SettingsError, load_settings
from ocrbatch.errors import BadInput
from ocrbatch.stack_outputs import DEFAULT_PREFIX, DEFAULT_STACK_NAME
from stacks.settings import ExistingVpc, Settings

from .conftest import REPO_ROOT


def load(context: dict | None = None, **environ: str) -> Settings:
    return load_settings((context or {}).get, environ)


def test_defaults_match_the_issue():
    settings = load()
    assert settings.prefix == DEFAULT_PREFIX == "pinball-ocr-training"
    assert settings.stack_name == DEFAULT_STACK_NAME == "pinball-ocr-training-infrastructure"
    assert settings.region == "us-west-2"
    assert settings.existing_vpc is None
    assert settings.availability_zones == ("us-west-2a", "us-west-2b", "us-west-2c")
    # Single-GPU types, and 4-GPU ones from three families for gpu-multi (not one thin Spot pool).
    assert settings.gpu_instance_types == (
        "p3.2xlarge", "p3.8xlarge", "g4dn.xlarge", "g4dn.2xlarge", "g4dn.12xlarge", "g5.12xlarge"
    )
    assert settings.cpu_instance_types == ("c5.large", "c5.xlarge", "c5.2xlarge", "c5.4xlarge")
    assert settings.max_vcpus == 64
    assert settings.max_on_demand_gpu_vcpus == 8
    assert settings.nat_gateways == 1
    assert settings.alert_email is None and settings.monthly_budget_usd is None
    assert settings.scan_on_push is True
    assert settings.use_spot is True and settings.spot_bid_percentage == 100
    assert settings.on_demand_gpu_fallback is True
    assert settings.destroy_data_on_delete is False


def test_environment_values_are_parsed():
    settings = load(
        VPC_ID="vpc-0123456789abcdef0",
        SUBNET_IDS="subnet-0123456789abcdef0, subnet-0fedcba9876543210",
        AWS_REGION="eu-central-1",
        OCRBATCH_PREFIX="acme-ocr",
        OCRBATCH_GPU_INSTANCE_TYPES="g5.xlarge,g6.xlarge",
        OCRBATCH_CPU_INSTANCE_TYPES="m6i.large",
        OCRBATCH_MAX_VCPUS="64",
        OCRBATCH_USE_SPOT="off",
        OCRBATCH_SPOT_BID_PERCENTAGE="60",
        OCRBATCH_ON_DEMAND_GPU_FALLBACK="no",
        OCRBATCH_DESTROY_DATA_ON_DELETE="yes",
        OCRBATCH_MAX_ON_DEMAND_GPU_VCPUS="16",
        OCRBATCH_NAT_GATEWAYS="3",
        OCRBATCH_ALERT_EMAIL="ops@example.com",
        OCRBATCH_MONTHLY_BUDGET_USD="300",
        OCRBATCH_SCAN_ON_PUSH="false",
    )
    assert settings.existing_vpc == ExistingVpc(
        "vpc-0123456789abcdef0", ("subnet-0123456789abcdef0", "subnet-0fedcba9876543210")
    )
    assert settings.region == "eu-central-1"
    assert settings.availability_zones == ("eu-central-1a", "eu-central-1b", "eu-central-1c")
    assert settings.stack_name == "acme-ocr-infrastructure"
    assert settings.gpu_instance_types == ("g5.xlarge", "g6.xlarge")
    assert settings.cpu_instance_types == ("m6i.large",)
    assert (settings.max_vcpus, settings.use_spot, settings.spot_bid_percentage) == (64, False, 60)
    assert settings.on_demand_gpu_fallback is False
    assert settings.destroy_data_on_delete is True
    assert (settings.max_on_demand_gpu_vcpus, settings.nat_gateways) == (16, 3)
    assert (settings.alert_email, settings.monthly_budget_usd) == ("ops@example.com", 300)
    assert settings.scan_on_push is False


def test_context_wins_over_environment_and_accepts_json_types():
    context = {"OCRBATCH_MAX_VCPUS": 32, "OCRBATCH_USE_SPOT": False, "OCRBATCH_GPU_INSTANCE_TYPES": ["g5.2xlarge"]}
    settings = load(context, OCRBATCH_MAX_VCPUS="128", OCRBATCH_USE_SPOT="true")
    assert settings.max_vcpus == 32
    assert settings.use_spot is False
    assert settings.gpu_instance_types == ("g5.2xlarge",)


def test_empty_values_count_as_unset():
    assert load(VPC_ID="", SUBNET_IDS=" ", OCRBATCH_MAX_VCPUS="") == load()


VPC = {"VPC_ID": "vpc-0123456789abcdef0"}
SUBNETS = {"SUBNET_IDS": "subnet-0123456789abcdef0"}


@pytest.mark.parametrize(
    ("environ", "key", "expected"),
    [
        (VPC, "SUBNET_IDS", "required when VPC_ID is set"),
        (SUBNETS, "VPC_ID", "required when SUBNET_IDS is set"),
        ({**SUBNETS, "VPC_ID": "my-vpc"}, "VPC_ID", "expected a VPC id"),
        ({**VPC, "SUBNET_IDS": "subnet-01234567,sn-2"}, "SUBNET_IDS", "expected comma-separated private subnet ids"),
        ({"AWS_REGION": "oregon"}, "AWS_REGION", "expected an AWS region"),
        ({"OCRBATCH_PREFIX": "Pinball_OCR"}, "OCRBATCH_PREFIX", "expected lowercase letters"),
        ({"OCRBATCH_PREFIX": "a" * 40}, "OCRBATCH_PREFIX", "expected at most 36 characters"),
        ({"OCRBATCH_AVAILABILITY_ZONES": "eu-west-1a"}, "OCRBATCH_AVAILABILITY_ZONES", "expected availability zones of us-west-2"),
        ({"OCRBATCH_GPU_INSTANCE_TYPES": "p3.2xlarge,,g4dn.xlarge"}, "OCRBATCH_GPU_INSTANCE_TYPES", "expected instance types"),
        ({"OCRBATCH_GPU_INSTANCE_TYPES": "c5.large"}, "OCRBATCH_GPU_INSTANCE_TYPES", "expected GPU instance types"),
        ({"OCRBATCH_CPU_INSTANCE_TYPES": "c5.large,c5.large"}, "OCRBATCH_CPU_INSTANCE_TYPES", "expected instance types such as c5.large without repeats"),
        ({"OCRBATCH_MAX_VCPUS": "lots"}, "OCRBATCH_MAX_VCPUS", "expected a whole number from 1 to 100000, got 'lots'"),
        ({"OCRBATCH_MAX_VCPUS": "0"}, "OCRBATCH_MAX_VCPUS", "expected a whole number from 1 to 100000"),
        ({"OCRBATCH_SPOT_BID_PERCENTAGE": "150"}, "OCRBATCH_SPOT_BID_PERCENTAGE", "expected a whole number from 1 to 100"),
        ({"OCRBATCH_USE_SPOT": "maybe"}, "OCRBATCH_USE_SPOT", "expected true or false, got 'maybe'"),
        ({"OCRBATCH_ON_DEMAND_GPU_FALLBACK": "2"}, "OCRBATCH_ON_DEMAND_GPU_FALLBACK", "expected true or false"),
        ({"OCRBATCH_DESTROY_DATA_ON_DELETE": "please"}, "OCRBATCH_DESTROY_DATA_ON_DELETE", "expected true or false"),
        ({"OCRBATCH_MAX_ON_DEMAND_GPU_VCPUS": "-1"}, "OCRBATCH_MAX_ON_DEMAND_GPU_VCPUS", "expected a whole number from 1"),
        ({"OCRBATCH_NAT_GATEWAYS": "4"}, "OCRBATCH_NAT_GATEWAYS", "expected a whole number from 1 to 3, got '4'"),
        ({"OCRBATCH_NAT_GATEWAYS": "3", "OCRBATCH_AVAILABILITY_ZONES": "us-west-2a,us-west-2b"}, "OCRBATCH_NAT_GATEWAYS", "expected a whole number from 1 to 2"),
        ({"OCRBATCH_ALERT_EMAIL": "ops@example.com,cto@example.com"}, "OCRBATCH_ALERT_EMAIL", "expected one e-mail address"),
        ({"OCRBATCH_MONTHLY_BUDGET_USD": "12.5"}, "OCRBATCH_MONTHLY_BUDGET_USD", "expected a whole number from 1 to 1000000"),
    ],
)
def test_bad_values_are_rejected_with_one_line_naming_the_key(environ, key, expected):
    with pytest.raises(SettingsError) as caught:
        load(**environ)
    text = str(caught.value)
    assert text.startswith(f"{key}: {expected}")
    assert "\n" not in text
    assert isinstance(caught.value, BadInput)


def test_bad_context_value_is_named_too():
    with pytest.raises(SettingsError, match=r"^OCRBATCH_MAX_VCPUS: expected a whole number"):
        load({"OCRBATCH_MAX_VCPUS": True})


def test_cdk_app_stops_with_one_line_and_exit_code_2():
    env = {**os.environ, "OCRBATCH_SPOT_BID_PERCENTAGE": "cheap", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run(
        [sys.executable, "-m", "cdk_app"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "cdk_app: OCRBATCH_SPOT_BID_PERCENTAGE: expected a whole number from 1 to 100, got 'cheap'"
    ]
    assert result.stdout == ""
