"""Running ``ocrbatch`` in-process through Typer's CliRunner, as tests across folders do.

The typer we pin (0.26-0.28) keeps stderr apart, so ``result.stdout`` is what a pipe would get.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ocrbatch.cli import app

runner = CliRunner()


def run(*args):
    """``ocrbatch ARGS`` in the test's environment; an exception the CLI lets escape fails the test."""
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def run_local(home: Path, *args, expect: int | None = 0):
    """``ocrbatch ARGS`` against the local target in ``home``, checking the exit code (``expect=None``:
    any)."""
    result = runner.invoke(app, [str(a) for a in args], env={"OCRBATCH_HOME": str(home), "OCRBATCH_BACKEND": "local"})
    if expect is not None:
        assert result.exit_code == expect, (args, result.exit_code, result.stdout, result.stderr)
    return result
