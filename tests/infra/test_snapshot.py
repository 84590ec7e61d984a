"""One normalized snapshot of the stack per VPC mode: any change to the template shows up in review.

Normalized so it is stable across machines: asset hashes (the image's changes whenever ocrbatch/
does) become ``<asset-hash>``, and the bootstrap-version parameter and rule are dropped.
Update after an intended change: ``pytest tests/infra/test_snapshot.py --snapshot-update``.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def normalized(document: dict) -> dict:
    document = copy.deepcopy(document)
    document.get("Parameters", {}).pop("BootstrapVersion", None)
    document.get("Rules", {}).pop("CheckBootstrapVersion", None)
    for section in ("Parameters", "Rules"):
        if section in document and not document[section]:
            del document[section]
    return json.loads(ASSET_HASH.sub("<asset-hash>", json.dumps(document)))


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_template_snapshot(platform, snapshot_json):
    assert normalized(platform.document) == snapshot_json()


def test_normalization_removes_only_noise():
    document = {
        "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"}},
        "Rules": {"CheckBootstrapVersion": {}},
        "Resources": {"Fn": {"Properties": {"S3Key": "0123456789abcdef" * 4 + ".zip", "Name": "keep-me"}}},
    }
    assert normalized(document) == {
        "Resources": {"Fn": {"Properties": {"S3Key": "<asset-hash>.zip", "Name": "keep-me"}}}
    }
