"""How this app records a security finding it accepts: on the one resource, with the reason.

cdk-nag 3.x findings are acknowledged through CDK's own ``Validations.of(construct).acknowledge``;
checkov reads skips from each resource's CloudFormation metadata (``checkov: {skip: [{id, comment}]}``).
cfn-lint reads ignored rules from the same metadata (``cfn-lint: {config: {ignore_checks: [...]}}``),
which has no room for a reason, so the reason sits beside the call. Nothing is acknowledged stack-wide.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import IConstruct


def acknowledge_nag(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept cdk-nag ``rule`` (e.g. ``AwsSolutions-IAM4[Policy::...]``) on ``construct`` and its children."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def skip_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Let checkov skip ``check_id`` on the CloudFormation resource behind ``construct``, with the reason."""
    resource = _resource(construct)
    metadata = dict(resource.cfn_options.metadata or {})
    skips = list(metadata.get("checkov", {}).get("skip", []))
    skips.append({"id": check_id, "comment": reason})
    metadata["checkov"] = {"skip": skips}
    resource.cfn_options.metadata = metadata


def ignore_cfn_lint(construct: IConstruct, rule: str) -> None:
    """Let cfn-lint ignore ``rule`` on the CloudFormation resource behind ``construct`` (say why at the call)."""
    resource = _resource(construct)
    metadata = dict(resource.cfn_options.metadata or {})
    config = dict(metadata.get("cfn-lint", {}).get("config", {}))
    config["ignore_checks"] = [*config.get("ignore_checks", []), rule]
    metadata["cfn-lint"] = {"config": config}
    resource.cfn_options.metadata = metadata


def accept_cdk_providers(stack: Stack) -> None:
    """Accept what the scanners say about CDK's own custom-resource handlers, where it does not apply.

    CDK adds these Lambda functions itself (the new VPC's default-security-group lockdown, the bucket
    auto-delete when data is destroyed with the stack). They run only while CloudFormation deploys.
    """
    for provider in stack.node.children:
        if not provider.node.id.startswith("Custom::"):
            continue
        handler = provider.node.find_child("Handler")
        skip_checkov(handler, "CKV_AWS_115", "Runs only during deployments; reserved concurrency would idle.")
        skip_checkov(handler, "CKV_AWS_116", "Invoked synchronously by CloudFormation, which reports its failures.")
        skip_checkov(handler, "CKV_AWS_117", "Calls only AWS APIs while deploying; no VPC resource to reach.")
        # CDK writes both a DependsOn and a GetAtt on the handler's role; harmless duplication.
        ignore_cfn_lint(handler, "W3005")


def _resource(construct: IConstruct) -> CfnResource:
    return construct if isinstance(construct, CfnResource) else construct.node.default_child
