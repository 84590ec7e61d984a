"""Notices Paddle and paddlex print that no ocrbatch user needs to read, and how each is quieted at its
source (``ocrbatch.jobs.log_noise`` hides them in the logs of jobs that still print them).

- Paddle warns, in every process that imports it, that it found no ccache: that matters only for
  compiling C++ extensions, which neither training nor inference does.
- paddlex logs each model it creates ("Creating model: ...") and the like at INFO, in colour, on stderr.

Warnings and errors stay: only these are quieted.
"""

from __future__ import annotations

import logging
import warnings
from typing import MutableMapping

NO_CCACHE = "No ccache found"  # the start of Paddle's warning (paddle.utils.cpp_extension)
# The same filter for the processes a process starts (data loader workers, PaddleOCR's tools/train.py,
# paddle.distributed.launch's workers): Python reads it from the environment at start-up.
_NO_CCACHE_FILTER = f"ignore:{NO_CCACHE}:UserWarning"


def quiet_paddle_warnings(environ: MutableMapping[str, str] | None = None) -> None:
    """Quiet the ccache warning in this process, and, given ``environ`` (this process's environment,
    or a child's), in the processes started with it. Filters already there stay."""
    warnings.filterwarnings("ignore", message=NO_CCACHE, category=UserWarning)
    if environ is not None:
        given = [entry for entry in environ.get("PYTHONWARNINGS", "").split(",") if entry]
        if _NO_CCACHE_FILTER not in given:
            environ["PYTHONWARNINGS"] = ",".join([*given, _NO_CCACHE_FILTER])


def quiet_paddlex_logging() -> None:
    """paddlex's INFO lines off; its warnings and errors stay. Call after importing paddlex (or
    paddleocr), which sets its logger to INFO on import."""
    logging.getLogger("paddlex").setLevel(logging.WARNING)
