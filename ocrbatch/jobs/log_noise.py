"""Third-party start-up notices that a user watching a job need not read.

Paddle warns on every start that it found no ccache (it only matters when compiling C++ extensions,
which training never does; the trainer quiets it at its source, ``ocrbatch.paddle_notices``, so only
jobs of an older image or version print it) and its PIR executor logs notices about graph features.
The job's raw log keeps them (``ocrbatch logs`` prints it as written); the monitor and the demo show
the rest.
"""

from __future__ import annotations

import re

from ocrbatch.paddle_notices import NO_CCACHE

# Each pattern names its source, so a reader can tell what is hidden and why.
PATTERNS = (
    re.compile(re.escape(f"UserWarning: {NO_CCACHE}.")),  # paddle.utils.cpp_extension, at import
    re.compile(r"^[IW]\d{4} [\d:.]+\s+\d+ \w+\.(?:cc|h):\d+\] .*\bPIR\b"),  # glog lines of the PIR executor
)
# Python prints the warning's source line after a warning; it goes with the warning.
_WARNING_SOURCE = re.compile(r"^\s+warnings\.warn\(")


class NoiseFilter:
    """Says which log lines to show; stateful, as a warning's source line follows it."""

    def __init__(self) -> None:
        self._after_hidden_warning = False

    def keep(self, line: str) -> bool:
        follows_hidden_warning, self._after_hidden_warning = self._after_hidden_warning, False
        if follows_hidden_warning and _WARNING_SOURCE.match(line):
            return False
        if any(pattern.search(line) for pattern in PATTERNS):
            self._after_hidden_warning = "Warning: " in line
            return False
        return True
