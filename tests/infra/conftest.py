"""Synthesizes the app once per test session and VPC mode (synth takes ~10 s here) for the infra tests.

The app is built the way ``cdk synth`` builds it: ``cdk.json``'s context (feature flags) and
``build_app``, so cdk-nag runs as part of every synth and an unacknowledged finding fails the fixture.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from cdk_app import build_app  # noqa: E402
from stacks.settings import ExistingVpc, Settings  # noqa: E402
from stacks.training_platform import TrainingPlatformStack  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
EXISTING_VPC = ExistingVpc("vpc-0a1b2c3d4e5f60718", ("subnet-0a1b2c3d4e5f60718", "subnet-08f7e6d5c4b3a2910"))
VPC_MODES = {"new-vpc": Settings(), "existing-vpc": Settings(existing_vpc=EXISTING_VPC)}


def cdk_context() -> dict:
    return json.loads((REPO_ROOT / "cdk.json").read_text())["context"]


def new_app(outdir: Path | None = None) -> App:
    return App(context=cdk_context(), outdir=str(outdir) if outdir else None)


@dataclass(frozen=True)
class Synthesized:
    mode: str
    settings: Settings
    app: App
    stack: TrainingPlatformStack
    template: Template  # for assertions
    document: dict  # the template as written to cdk.out
    template_path: Path

    def resources(self, resource_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.document["Resources"].items() if v["Type"] == resource_type}

    def resource(self, ref: dict) -> dict:
        """The resource a ``Ref`` / ``Fn::GetAtt`` points at."""
        logical_id = ref["Ref"] if "Ref" in ref else ref["Fn::GetAtt"][0]
        return self.document["Resources"][logical_id]

    def referenced(self, value) -> dict:
        """The one resource an output value refers to, however deep in Fn::Split/Select it sits."""
        found = []

        def walk(node):
            if isinstance(node, dict):
                if "Ref" in node or "Fn::GetAtt" in node:
                    found.append(self.resource(node))
                else:
                    for child in node.values():
                        walk(child)
            elif isinstance(node, list):
                for child in node:
                    walk(child)

        walk(value)
        (resource,) = found
        return resource


def synthesize(settings: Settings, outdir: Path, mode: str = "custom") -> Synthesized:
    app, stack = build_app(settings, new_app(outdir))
    assembly = app.synth()
    path = Path(assembly.get_stack_by_name(stack.stack_name).template_full_path)
    document = json.loads(path.read_text())
    return Synthesized(mode, settings, app, stack, Template.from_json(document), document, path)


@pytest.fixture(scope="session", params=list(VPC_MODES))
def platform(request, tmp_path_factory) -> Synthesized:
    """The synthesized stack, once in each VPC mode."""
    return _synthesized(request.param, tmp_path_factory)


@pytest.fixture(scope="session")
def new_vpc_platform(tmp_path_factory) -> Synthesized:
    return _synthesized("new-vpc", tmp_path_factory)


@pytest.fixture(scope="session")
def existing_vpc_platform(tmp_path_factory) -> Synthesized:
    return _synthesized("existing-vpc", tmp_path_factory)


_CACHE: dict[str, Synthesized] = {}


def _synthesized(mode: str, tmp_path_factory) -> Synthesized:
    if mode not in _CACHE:
        _CACHE[mode] = synthesize(VPC_MODES[mode], tmp_path_factory.mktemp(f"cdk-{mode}"), mode)
    return _CACHE[mode]


VARIANT = Settings(
    prefix="acme-ocr",
    region="eu-west-1",
    use_spot=False,
    max_vcpus=64,
    max_on_demand_gpu_vcpus=12,
    destroy_data_on_delete=True,
    nat_gateways=3,
    alert_email="ops@example.com",
    monthly_budget_usd=500,
    scan_on_push=False,
    gpu_instance_types=("g5.xlarge", "g5.12xlarge"),
)


@pytest.fixture(scope="session")
def variant_platform(tmp_path_factory) -> Synthesized:
    """Every non-default setting at once: another prefix and region, no Spot, data destroyed with the stack."""
    return synthesize(VARIANT, tmp_path_factory.mktemp("cdk-variant"), "variant")
