"""The one place that builds things: where a command acts (a :class:`Target`) and the objects the
services take as arguments (the store, the job backend, the AWS clients).

The CLI resolves its shared flags here and hands what it gets to the services; the services never
build a store, a backend or a client themselves (the import contracts in ``.importlinter`` hold that
line). Everything is built on first use: ``cancel`` builds Batch's client alone, ``upload --s3-bucket``
reads no stack, and an unchanged re-upload builds no S3 client at all (see ``ocrbatch.quick_s3``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ocrbatch.errors import BadInput

if TYPE_CHECKING:  # every command imports this module: keep its start-up cost to nothing
    from ocrbatch.jobs.backend import JobBackend
    from ocrbatch.storage import ObjectStore

DEFAULT_HOME = Path("~/.ocrbatch")
BACKEND_VARIABLE = "OCRBATCH_BACKEND"
# AWS Batch job ids are UUIDs (array children add ":<index>"); local ids start with "local-".
_BATCH_JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:\d+)?$")


@dataclass(frozen=True)
class Target:
    """Where a command acts: this machine (``local``) or a deployed stack and its AWS account."""

    local: bool
    stack: str | None = None
    region: str | None = None
    profile: str | None = None
    bucket: str | None = None
    job_queue: str | None = None
    job_definition: str | None = None
    home: str | None = None

    @property
    def home_dir(self) -> Path:
        """Local mode's state folder (the store, the jobs, the cached models)."""
        return Path(self.home or DEFAULT_HOME).expanduser()


def resolve_target(
    local: bool | None,
    *,
    environ: Mapping[str, str],
    job_ref: str | None = None,
    stack: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    bucket: str | None = None,
    job_queue: str | None = None,
    job_definition: str | None = None,
    home: str | None = None,
) -> Target:
    """``--local/--aws`` when given; else OCRBATCH_BACKEND; else AWS when an AWS resource (or a Batch
    job id, as in the seed's ``monitor --job-id ID``) is named; else local, which needs nothing."""
    if local is None:
        chosen = environ.get(BACKEND_VARIABLE, "").strip().lower()
        if chosen in ("local", "aws"):
            local = chosen == "local"
        elif chosen:
            raise BadInput(f"{BACKEND_VARIABLE} must be 'local' or 'aws', got {chosen!r}")
        elif job_ref and _BATCH_JOB_ID.match(job_ref):
            local = False
        else:
            local = not any((stack, bucket, job_queue, job_definition, profile, region))
    return Target(local, stack, region, profile, bucket, job_queue, job_definition, home)


class Deadline:
    """When a command's AWS calls must be over (``monitor --timeout``; ``pipeline --timeout`` while it
    follows the job), or none for now. Clients built under one bound their connect and read timeouts
    by the time it leaves, so a call let go of at the deadline does not run on (``ocrbatch.aws_clients``)."""

    def __init__(self, seconds: float | None = None):
        self._ends_at: float | None = None
        if seconds is not None:
            self.start(seconds)

    def start(self, seconds: float) -> None:
        self._ends_at = time.monotonic() + seconds

    def clear(self) -> None:
        self._ends_at = None

    def left(self) -> float | None:
        """Seconds until the deadline (negative once past it), or None while there is none."""
        return None if self._ends_at is None else self._ends_at - time.monotonic()


class Wiring:
    """The objects one command works with, each built on first use from its :class:`Target`."""

    def __init__(self, target: Target, deadline: Deadline | None = None):
        self.target = target
        self.deadline = deadline

    @cached_property
    def aws(self):
        """AWS clients of the target's profile and region (each built when first asked for), bounded
        by the command's deadline when it has one."""
        from ocrbatch.aws_clients import AwsClients

        time_left = self.deadline.left if self.deadline else None
        return AwsClients(self.target.profile, self.target.region, time_left=time_left)

    @cached_property
    def stack(self):
        """The deployed stack's names, with the flags' overrides."""
        from ocrbatch.jobs.stack import discover_stack

        target = self.target
        return discover_stack(
            self.aws("cloudformation"),
            region=self.aws.region,
            stack_name=target.stack,
            bucket=target.bucket,
            job_queue=target.job_queue,
            job_definition=target.job_definition,
        )

    @cached_property
    def store(self) -> ObjectStore:
        """The store alone: cheaper than a backend (no Batch client, no stack lookup with --s3-bucket)."""
        if self.target.local:
            from ocrbatch.jobs.local import local_store

            return local_store(self.target.home_dir)
        from ocrbatch.aws_clients import session, transfer_config
        from ocrbatch.quick_s3 import quick_get, quick_list
        from ocrbatch.storage import S3Store

        bucket = self.target.bucket or self.stack.require("bucket")
        aws_session = session(self.target.profile, self.target.region)
        return S3Store.deferred(
            partial(self.aws, "s3"),
            bucket,
            quick_get=partial(quick_get, aws_session),
            quick_list=partial(quick_list, aws_session),
            transfer_config=transfer_config,
        )

    @cached_property
    def backend(self) -> JobBackend:
        if self.target.local:
            from ocrbatch.jobs.local import LocalBackend

            return LocalBackend(self.target.home_dir)
        from ocrbatch.aws_clients import transfer_config
        from ocrbatch.jobs.aws_batch import AwsBatchBackend

        return AwsBatchBackend(clients=self.aws, stack=self.stack, transfer_config=transfer_config)

    @cached_property
    def spot_prices(self):
        """Spot prices of the target's region, the current ones cached under the home folder."""
        from ocrbatch.jobs.pricing import SpotPrices

        cache = self.target.home_dir / "cache" / "spot-prices.json"
        return SpotPrices(self.aws("ec2"), region=self.aws.region, cache_file=cache)

    @cached_property
    def on_demand_prices(self):
        import os

        from ocrbatch.jobs.pricing import on_demand_prices

        return on_demand_prices(self.aws.region, os.environ)

    @property
    def models_dir(self) -> Path:
        """Where models downloaded for ``predict --model JOB`` are kept, beside local state."""
        return self.target.home_dir / "models"

    @property
    def reports_dir(self) -> Path:
        """Where ``report`` writes the pages it builds (a model's own page stays as published)."""
        return self.target.home_dir / "reports"
