"""How this app records a security finding it accepts: on the one resource, with the reason.

cdk-nag 3.x findings are acknowledged through CDK's own ``Validations.of(construct).acknowledge``;
checkov reads skips from each resource's CloudFormation metadata (``checkov: {skip: [{id, comment}]}``).
Nothing is acknowledged stack-wide.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct


def acknowledge_nag(construct: IConstruct, rule: str, reason: str) -> None:
    """Accept cdk-nag ``rule`` (e.g. ``AwsSolutions-IAM4[Policy::...]``) on ``construct`` and its children."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def skip_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Let checkov skip ``check_id`` on the CloudFormation resource behind ``construct``, with the reason."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    metadata = dict(resource.cfn_options.metadata or {})
    skips = list(metadata.get("checkov", {}).get("skip", []))
    skips.append({"id": check_id, "comment": reason})
    metadata["checkov"] = {"skip": skips}
    resource.cfn_options.metadata = metadata
