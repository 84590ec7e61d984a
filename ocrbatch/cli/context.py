"""Turn the shared flags (a :class:`~ocrbatch.cli.common.Target`) into a store and a job backend.

This is where clients get built and injected; services below never build their own.
"""

import os
from pathlib import Path

from ocrbatch.cli.common import Target
from ocrbatch.jobs.backend import JobBackend
from ocrbatch.storage import ObjectStore


def local_home(home: str | None) -> Path:
    return Path(home or os.environ.get("OCRBATCH_HOME") or Path.home() / ".ocrbatch").expanduser()


def open_backend(target: Target) -> JobBackend:
    if target.local:
        from ocrbatch.jobs.local import LocalBackend

        return LocalBackend(local_home(target.home))
    from ocrbatch.jobs.aws_batch import backend_for_target

    return backend_for_target(target)


def open_store(target: Target) -> ObjectStore:
    """The store alone: cheaper than a backend (no Batch client, no stack lookup with --s3-bucket)."""
    if target.local:
        from ocrbatch.jobs.local import local_store

        return local_store(local_home(target.home))
    from ocrbatch.jobs.aws_batch import store_for_target

    return store_for_target(target)
