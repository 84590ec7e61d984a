"""`npx cdk synth` end to end, offline, without AWS credentials, in both VPC modes (the pinned CLI from
package.json; skipped before `npm ci`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXISTING_VPC, REPO_ROOT

CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"
STACK = "pinball-ocr-training-infrastructure"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CDK.exists(), reason="the CDK CLI is installed by `npm ci` (package.json)"),
]


def cdk_synth(outdir: Path, **settings: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_", "OCRBATCH_"))}
    env.update(settings)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # `python -m cdk_app`
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # no credential probing of an instance metadata service
    return subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "--output", str(outdir)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("existing_vpc", [False, True], ids=["new-vpc", "existing-vpc"])
def test_cdk_synth_offline(tmp_path, existing_vpc):
    settings = (
        {"VPC_ID": EXISTING_VPC.vpc_id, "SUBNET_IDS": ",".join(EXISTING_VPC.subnet_ids)} if existing_vpc else {}
    )
    result = cdk_synth(tmp_path, **settings)
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / f"{STACK}.template.json").read_text())
    vpcs = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::VPC"]
    assert len(vpcs) == (0 if existing_vpc else 1)
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr, result.stderr[-3000:]


def test_cdk_synth_stops_on_a_bad_setting(tmp_path):
    result = cdk_synth(tmp_path, VPC_ID=EXISTING_VPC.vpc_id)
    assert result.returncode != 0
    assert "cdk_app: SUBNET_IDS: required when VPC_ID is set" in result.stderr
