"""Paddle's ccache warning is quieted where the trainer starts, for it and every process it starts;
paddlex's INFO lines are off in predict/label; other warnings and paddlex's warnings still show."""

import logging
import os
import subprocess
import sys
import textwrap

from ocrbatch.paddle_notices import quiet_paddle_warnings, quiet_paddlex_logging


def test_the_trainer_s_children_import_paddle_without_the_ccache_warning_but_keep_other_warnings():
    script = textwrap.dedent("""
        import os, subprocess, sys, warnings
        os.environ["PYTHONWARNINGS"] = "default::ResourceWarning"  # a user's own filter
        from ocrbatch.trainer.__main__ import quiet_paddle_warnings  # what the trainer's entry point calls
        quiet_paddle_warnings(os.environ)
        warnings.warn("No ccache found. Please be aware ...", UserWarning)  # this process: quiet
        warnings.warn("kept in the trainer", UserWarning)
        child = "import paddle, warnings; warnings.warn('kept in a child', UserWarning)"
        sys.exit(subprocess.run([sys.executable, "-c", child], env=os.environ).returncode)
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "ccache" not in done.stderr
    assert "kept in the trainer" in done.stderr and "kept in a child" in done.stderr


def test_the_filter_is_added_once_after_the_user_s_own():
    environ = {"PYTHONWARNINGS": "error::DeprecationWarning"}
    quiet_paddle_warnings(environ)
    quiet_paddle_warnings(environ)
    assert environ["PYTHONWARNINGS"] == "error::DeprecationWarning,ignore:No ccache found:UserWarning"


def test_paddlex_info_lines_are_off_and_its_warnings_stay():
    logger = logging.getLogger("paddlex")
    before = logger.level
    try:
        logger.setLevel(logging.INFO)  # as importing paddlex leaves it
        quiet_paddlex_logging()
        assert not logger.isEnabledFor(logging.INFO) and logger.isEnabledFor(logging.WARNING)
    finally:
        logger.setLevel(before)
