"""cdk.json runs scripts/cdk-app: the project's own Python is found with nothing activated, or one line says how."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def project(tmp_path: Path, *, venv: bool) -> Path:
    """A project folder with the launcher and a CDK app that says which Python ran it."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "cdk-app", tmp_path / "scripts" / "cdk-app")
    (tmp_path / "cdk_app").mkdir()
    (tmp_path / "cdk_app" / "__main__.py").write_text("import sys; print('app ran by', sys.executable)\n")
    if venv:
        (tmp_path / ".venv" / "bin").mkdir(parents=True)
        python = tmp_path / ".venv" / "bin" / "python"
        python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # stands for this environment (aws_cdk)
        python.chmod(0o755)
    return tmp_path


def launch(root: Path) -> subprocess.CompletedProcess:
    app = json.loads((REPO / "cdk.json").read_text())["app"]
    assert app == "sh scripts/cdk-app"
    # What a fresh shell has: no virtualenv activated, no project Python on PATH.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root)}
    return subprocess.run(["/bin/sh", "scripts/cdk-app"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_projects_venv_runs_the_app_without_activation(tmp_path):
    result = launch(project(tmp_path, venv=True))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"app ran by {sys.executable}"


def test_without_an_environment_one_line_says_how_to_make_it(tmp_path):
    result = launch(project(tmp_path, venv=False))
    if result.returncode == 0:  # this machine's own python3 has the CDK packages: nothing to explain
        assert "app ran by" in result.stdout
        return
    assert result.returncode == 1
    assert result.stderr == (
        "cdk: no Python here has the CDK app's packages: run `bash scripts/dev setup` (it makes .venv), "
        "then run cdk again\n"
    )
