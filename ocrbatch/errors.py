"""Exceptions the CLI turns into one-line messages with meaningful exit codes.

Exit codes: 0 ok, 1 a job/run failed, 2 bad input or usage, 3 environment (AWS, stack, store) problem,
124 a wait given --timeout ended before the job did (the job itself goes on; 124 as for timeout(1)).
"""


class OcrbatchError(Exception):
    """Base class: the message is shown to the user as one line."""

    exit_code = 3


class BadInput(OcrbatchError):
    """The user gave something we cannot use (a bad dataset, flag, URI)."""

    exit_code = 2


class NotFound(OcrbatchError):
    """Something the user named does not exist (dataset version, job, stack)."""

    exit_code = 2


class IntegrityError(OcrbatchError):
    """Data arrived but does not match its manifest (corrupt shard, truncated download)."""

    exit_code = 3


class StoreError(OcrbatchError):
    """Moving bytes to or from the store, or onto local disk, failed (network, permissions, space)."""

    exit_code = 3


class RunFailed(OcrbatchError):
    """A training job or run ended in failure."""

    exit_code = 1


class WaitTimedOut(OcrbatchError):
    """``monitor``/``pipeline --timeout`` ran out while the job was still going; the job goes on."""

    exit_code = 124

    def __init__(self, job_id: str, status: str, waited_s: float, *, detail: str | None = None):
        why = f" ({detail})" if detail else ""
        super().__init__(
            f"stopped waiting after {waited_s:g} s (--timeout){why}: job {job_id} is {status} and keeps going"
        )
        self.job_id = job_id
        self.status = status
