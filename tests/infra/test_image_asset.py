"""The training image's repository: scanned on push without a console step (or left to the account)."""

from __future__ import annotations


def test_the_cdk_asset_repository_is_scanned_on_push(platform):
    (config,) = platform.resources("AWS::ECR::RegistryScanningConfiguration").values()
    props = config["Properties"]
    assert props["ScanType"] == "BASIC"
    (rule,) = props["Rules"]
    assert rule["ScanFrequency"] == "SCAN_ON_PUSH"
    (repository,) = rule["RepositoryFilters"]
    assert repository["FilterType"] == "WILDCARD"
    # Only the CDK asset repositories of this account and region, whatever the bootstrap qualifier.
    assert repository["Filter"] == {
        "Fn::Join": ["", ["cdk-*-container-assets-", {"Ref": "AWS::AccountId"}, "-", {"Ref": "AWS::Region"}]]
    }


def test_an_account_that_manages_scanning_itself_keeps_its_configuration(variant_platform):
    assert variant_platform.resources("AWS::ECR::RegistryScanningConfiguration") == {}
