"""Waiting in tests for something another process does: poll until it holds, or fail naming it."""

from __future__ import annotations

import time


def wait_for(condition, *, what: str = "condition", timeout: float = 240, every: float = 0.2):
    """The first truthy value of ``condition()``; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
