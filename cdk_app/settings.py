"""The CDK app's settings: read once, from CDK context and the environment, into ``stacks.settings.Settings``.

Every setting has one name, usable either as context (``npx cdk synth -c OCRBATCH_MAX_VCPUS=64``,
or the ``context`` block of ``cdk.json``) or as an environment variable (``OCRBATCH_MAX_VCPUS=64 npx
cdk synth``). Context wins over the environment because it is the more deliberate of the two; an empty
value counts as unset. A missing or malformed value raises :class:`SettingsError`, whose one-line
message names the key and what is expected, and ``python -m cdk_app`` turns that into exit code 2.

    VPC_ID + SUBNET_IDS            an existing VPC and its private subnets (both or neither);
                                   neither: a new VPC with private subnets in OCRBATCH_AVAILABILITY_ZONES
    AWS_REGION                     default us-west-2
    OCRBATCH_PREFIX                names the queues and job definitions; default pinball-ocr-training
    OCRBATCH_AVAILABILITY_ZONES    zones of a new VPC; default <region>a,<region>b,<region>c
    OCRBATCH_NAT_GATEWAYS          NAT gateways of a new VPC: 1 (default, ~$33/month) shared by every
                                   zone, up to one per zone (resilient to a zone outage, N times the cost)
    OCRBATCH_GPU_INSTANCE_TYPES    default p3.2xlarge,p3.8xlarge,g4dn.xlarge,g4dn.2xlarge,g4dn.12xlarge,g5.12xlarge
    OCRBATCH_CPU_INSTANCE_TYPES    default c5.large,c5.xlarge,c5.2xlarge,c5.4xlarge
    OCRBATCH_MAX_VCPUS             cap of the Spot GPU and of the CPU environment, each; default 64
    OCRBATCH_MAX_ON_DEMAND_GPU_VCPUS  cap of the on-demand GPU environment; default 8 (one GPU job)
    OCRBATCH_USE_SPOT              default true
    OCRBATCH_SPOT_BID_PERCENTAGE   1-100 % of the on-demand price; default 100
    OCRBATCH_ON_DEMAND_GPU_FALLBACK  an on-demand GPU environment behind the Spot one; default true
    OCRBATCH_DESTROY_DATA_ON_DELETE  `cdk destroy` deletes the buckets (and their objects) and the log
                                   group; default false: all three are kept
    OCRBATCH_SCAN_ON_PUSH          ECR scans the training image on push (this sets the account's registry
                                   scanning configuration for the region: false where it is managed elsewhere);
                                   default true
    OCRBATCH_ALERT_EMAIL           subscribe this address to the alert topic (failed jobs, blocked
                                   queues, invalid compute environments, budget); default none
    OCRBATCH_MONTHLY_BUDGET_USD    an AWS Budgets monthly cost budget for the account, alerting at 80 %
                                   actual and 100 % forecast; default none
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ocrbatch.errors import BadInput
from stacks.settings import (
    DEFAULT_CPU_INSTANCE_TYPES,
    DEFAULT_GPU_INSTANCE_TYPES,
    DEFAULT_MAX_ON_DEMAND_GPU_VCPUS,
    DEFAULT_MAX_VCPUS,
    DEFAULT_PREFIX,
    DEFAULT_REGION,
    ExistingVpc,
    Settings,
)

__all__ = ["ExistingVpc", "Settings", "SettingsError", "load_settings"]

# The prefix starts the stack, queue and job definition names, and CloudFormation builds the buckets' and
# log group's names from the stack name (S3 allows 63 characters): short enough to stay readable there.
MAX_PREFIX_LENGTH = 36

_PREFIX = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_GPU_FAMILY = re.compile(r"^[pg]\d")
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class SettingsError(BadInput):
    """A setting is missing or malformed; the message names the key and what is expected."""


def load_settings(context: Callable[[str], Any], environ: Mapping[str, str]) -> Settings:
    """Read every setting from ``context(key)`` (e.g. ``app.node.try_get_context``), then ``environ``."""
    source = _Source(context, environ)
    region = source.text("AWS_REGION", _REGION, "an AWS region such as us-west-2") or DEFAULT_REGION
    prefix = source.text(
        "OCRBATCH_PREFIX",
        _PREFIX,
        f"lowercase letters, digits and hyphens, starting with a letter, at most {MAX_PREFIX_LENGTH} characters",
    )
    if prefix is not None and len(prefix) > MAX_PREFIX_LENGTH:
        raise SettingsError(f"OCRBATCH_PREFIX: expected at most {MAX_PREFIX_LENGTH} characters, got {prefix!r}")
    zones = source.items(
        "OCRBATCH_AVAILABILITY_ZONES",
        re.compile(rf"^{re.escape(region)}[a-z]$"),
        f"availability zones of {region}, e.g. {region}a,{region}b",
    )
    gpu_types = source.items("OCRBATCH_GPU_INSTANCE_TYPES", _INSTANCE_TYPE, "instance types such as g4dn.xlarge")
    if gpu_types and not all(_GPU_FAMILY.match(t) for t in gpu_types):
        raise SettingsError(
            "OCRBATCH_GPU_INSTANCE_TYPES: expected GPU instance types (p*/g* families), "
            f"got {','.join(gpu_types)!r}"
        )
    cpu_types = source.items("OCRBATCH_CPU_INSTANCE_TYPES", _INSTANCE_TYPE, "instance types such as c5.large")
    zone_count = len(zones) if zones else 3
    email = source.text("OCRBATCH_ALERT_EMAIL", _EMAIL, "one e-mail address such as ops@example.com")
    return Settings(
        prefix=prefix or DEFAULT_PREFIX,
        region=region,
        existing_vpc=_existing_vpc(source),
        availability_zones=zones or (),
        nat_gateways=_or(source.integer("OCRBATCH_NAT_GATEWAYS", 1, zone_count), 1),
        gpu_instance_types=gpu_types or DEFAULT_GPU_INSTANCE_TYPES,
        cpu_instance_types=cpu_types or DEFAULT_CPU_INSTANCE_TYPES,
        max_vcpus=_or(source.integer("OCRBATCH_MAX_VCPUS", 1, 100_000), DEFAULT_MAX_VCPUS),
        max_on_demand_gpu_vcpus=_or(
            source.integer("OCRBATCH_MAX_ON_DEMAND_GPU_VCPUS", 1, 100_000), DEFAULT_MAX_ON_DEMAND_GPU_VCPUS
        ),
        use_spot=_or(source.boolean("OCRBATCH_USE_SPOT"), True),
        spot_bid_percentage=_or(source.integer("OCRBATCH_SPOT_BID_PERCENTAGE", 1, 100), 100),
        on_demand_gpu_fallback=_or(source.boolean("OCRBATCH_ON_DEMAND_GPU_FALLBACK"), True),
        destroy_data_on_delete=_or(source.boolean("OCRBATCH_DESTROY_DATA_ON_DELETE"), False),
        scan_on_push=_or(source.boolean("OCRBATCH_SCAN_ON_PUSH"), True),
        alert_email=email,
        monthly_budget_usd=source.integer("OCRBATCH_MONTHLY_BUDGET_USD", 1, 1_000_000),
    )


def _existing_vpc(source: "_Source") -> ExistingVpc | None:
    vpc_id = source.text("VPC_ID", _VPC_ID, "a VPC id such as vpc-0123456789abcdef0")
    subnet_ids = source.items("SUBNET_IDS", _SUBNET_ID, "comma-separated private subnet ids such as subnet-0123abcd")
    if vpc_id and not subnet_ids:
        raise SettingsError("SUBNET_IDS: required when VPC_ID is set (comma-separated private subnet ids of that VPC)")
    if subnet_ids and not vpc_id:
        raise SettingsError("VPC_ID: required when SUBNET_IDS is set (the id of the VPC those subnets belong to)")
    return ExistingVpc(vpc_id, subnet_ids) if vpc_id else None


def _or(value, default):
    return default if value is None else value


class _Source:
    """Looks a key up in context, then the environment; parses it or raises a one-line SettingsError."""

    def __init__(self, context: Callable[[str], Any], environ: Mapping[str, str]):
        self._context = context
        self._environ = environ

    def raw(self, key: str) -> Any:
        value = self._context(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            value = self._environ.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value.strip() if isinstance(value, str) else value

    def text(self, key: str, pattern: re.Pattern, expected: str) -> str | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str) or not pattern.match(value):
            raise SettingsError(f"{key}: expected {expected}, got {value!r}")
        return value

    def items(self, key: str, pattern: re.Pattern, expected: str) -> tuple[str, ...] | None:
        value = self.raw(key)
        if value is None:
            return None
        parts = value if isinstance(value, list) else str(value).split(",")
        items = tuple(str(p).strip() for p in parts)
        bad = [p for p in items if not pattern.match(p)]
        if bad or not items:
            raise SettingsError(f"{key}: expected {expected}, got {bad[0] if bad else value!r}")
        if len(set(items)) != len(items):
            raise SettingsError(f"{key}: expected {expected} without repeats, got {value!r}")
        return items

    def integer(self, key: str, low: int, high: int) -> int | None:
        value = self.raw(key)
        if value is None:
            return None
        try:
            number = value if isinstance(value, int) and not isinstance(value, bool) else int(str(value), 10)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise SettingsError(f"{key}: expected a whole number from {low} to {high}, got {value!r}")
        return number

    def boolean(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None or isinstance(value, bool):
            return value
        word = str(value).lower()
        if word in _TRUE | _FALSE:
            return word in _TRUE
        raise SettingsError(f"{key}: expected true or false, got {value!r}")
