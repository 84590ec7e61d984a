"""The layers of pyproject.toml's [tool.importlinter], checked on every test run (and so in CI)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# In a process of its own: lint-imports sets logging up with dictConfig, which disables every logger
# that already exists in the calling process (paddlex's, after a predict test), so later tests broke.
LINT = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True))"


def test_imports_keep_to_the_layers():
    done = subprocess.run([sys.executable, "-c", LINT, str(REPO / "pyproject.toml")], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
