"""The training image: ``training_image/Dockerfile`` built by `cdk deploy` as a Docker image asset.

The build context is the repository root, because the image installs this very package; the root
``.dockerignore`` lets only the package and the Dockerfile in, so neither the asset hash nor the
upload changes when only the CDK app or the tests do. No Docker is needed to synthesize; `cdk deploy`
builds the image and pushes it to the CDK bootstrap ECR repository
(``cdk-<qualifier>-container-assets-<account>-<region>``).

Image scanning. That repository belongs to the bootstrap stack, not to this one, and the stock bootstrap
template does not turn scanning on. Rather than fork the bootstrap template (it changes with every CDK
release) or copy the image into a repository of our own (a custom resource, twice the storage), the
stack sets ECR's registry scanning configuration: scan on push (BASIC), for the CDK asset repositories
of this account and region only. That configuration is one per registry and this replaces it: an
account that already manages registry scanning (Amazon Inspector's ENHANCED scanning, say) sets
``scan_on_push=False`` (OCRBATCH_SCAN_ON_PUSH=false) and keeps its own.

Old images. Every deploy that changes the image pushes a new one and nothing deletes the old: run
``npx cdk gc --unstable=gc --type=ecr`` now and then (it deletes asset images no deployed stack uses).
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = "training_image/Dockerfile"

# The root .dockerignore is the allow-list (CDK reads it too); these are a safety net so that, whatever
# becomes of it, no virtualenv or node_modules is ever hashed, staged into cdk.out or uploaded.
BUILD_CONTEXT_EXCLUDES = [".git", ".venv*", "node_modules", "cdk.out", "tests", "bench"]


class TrainingImage(Construct):
    """``asset`` (its ``image_uri`` is an output) and ``container_image`` for job definitions."""

    asset: ecr_assets.DockerImageAsset
    container_image: ecs.ContainerImage

    def __init__(
        self, scope: Construct, construct_id: str, *, scan_on_push: bool = True, context_directory: Path = REPO_ROOT
    ) -> None:
        super().__init__(scope, construct_id)
        self.asset = ecr_assets.DockerImageAsset(
            self,
            "Asset",
            directory=str(context_directory),
            file=DOCKERFILE,
            # Batch GPU instances (p3, g4dn) are x86_64; pin it so an ARM laptop builds the right image.
            platform=ecr_assets.Platform.LINUX_AMD64,
            exclude=BUILD_CONTEXT_EXCLUDES,
            display_name="ocrbatch training image",
        )
        self.container_image = ecs.ContainerImage.from_docker_image_asset(self.asset)
        if scan_on_push:
            ecr.CfnRegistryScanningConfiguration(
                self,
                "ScanOnPush",
                scan_type="BASIC",
                rules=[
                    ecr.CfnRegistryScanningConfiguration.ScanningRuleProperty(
                        scan_frequency="SCAN_ON_PUSH",
                        repository_filters=[
                            ecr.CfnRegistryScanningConfiguration.RepositoryFilterProperty(
                                # The bootstrap repository, whatever its qualifier.
                                filter=f"cdk-*-container-assets-{Aws.ACCOUNT_ID}-{Aws.REGION}",
                                filter_type="WILDCARD",
                            )
                        ],
                    )
                ],
            )
