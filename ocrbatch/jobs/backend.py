"""The interface both job backends implement: AWS Batch (``aws_batch.py``) and local processes (``local.py``).

Services (monitor, download, pipeline) are written once against :class:`JobBackend`, so local mode
behaves like AWS by construction. Status names are Batch's own, in both backends.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator, Protocol

from ocrbatch.errors import BadInput
from ocrbatch.stop_window import EXIT_STOPPED
from ocrbatch.storage import ObjectStore
from ocrbatch.trainer.spec import TrainingSpec

ACTIVE_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")
# Waiting states: a job there is withdrawn (Batch's cancel_job); a later one must be terminated.
CANCELLABLE_STATES = ("SUBMITTED", "PENDING", "RUNNABLE")
QUEUES = ("gpu", "cpu")
# Local mode's reasons for an attempt ended from outside the job (its runner died or was stopped, its
# trainer killed or sent SIGTERM by someone else) start with this. Such an attempt is retried from
# its checkpoint as a Spot reclaim is, but is never called one: no Spot instance was involved.
LOCAL_INTERRUPTION = "Interrupted locally: "
# Batch has no cancelled state: a cancelled or terminated job ends FAILED with the reason it was sent.
# `ocrbatch cancel` starts every reason it sends with this, so a job it ended can be told from a failure.
CANCELLED_BY_OCRBATCH = "cancelled with ocrbatch cancel"
CANCEL_REASON_LIMIT = 1024  # characters Batch takes in CancelJob's and TerminateJob's reason


def interrupted_locally(reason: str | None) -> bool:
    """An attempt's reason says local mode's job was interrupted from outside ("Host terminated" in
    records written before local mode said what it was)."""
    return bool(reason and reason.startswith((LOCAL_INTERRUPTION, "Host terminated")))


def what_interrupted(reason: str) -> str:
    """A local interruption's reason without its marker: what happened, in a sentence's middle."""
    return reason.removeprefix(LOCAL_INTERRUPTION)


def cancel_reason(why: str | None = None) -> str:
    """The reason `ocrbatch cancel` records on a job: its marker, then the user's words if any."""
    reason = f"{CANCELLED_BY_OCRBATCH}: {why.strip()}" if why and why.strip() else CANCELLED_BY_OCRBATCH
    if len(reason) > CANCEL_REASON_LIMIT:
        raise BadInput(f"--reason is {len(why)} characters; Batch records at most "
                       f"{CANCEL_REASON_LIMIT - len(CANCELLED_BY_OCRBATCH) - 2}")
    return reason


def shown_status(status: str, cancelled: bool) -> str:
    """A job's state as people read it: Batch's, or CANCELLED for a job `ocrbatch cancel` ended (scripts
    get Batch's state and ``cancelled``)."""
    return "CANCELLED" if cancelled else status


def check_placement(queue: str, gpus: int) -> None:
    """A queue both backends know and a GPU count it can give (several GPUs: the gpu queue)."""
    if queue not in QUEUES:
        raise BadInput(f"--queue must be {' or '.join(QUEUES)}, got {queue!r}")
    if gpus < 1:
        raise BadInput(f"--gpus must be 1 or more, got {gpus}")
    if queue == "cpu" and gpus != 1:
        raise BadInput("--gpus applies to the gpu queue only")
FINAL_STATES = ("SUCCEEDED", "FAILED")


@dataclass(frozen=True)
class JobRequest:
    """What `submit` asks a backend to run."""

    job_name: str
    spec: TrainingSpec
    queue: str = "gpu"  # "gpu" or "cpu" (the backend maps it to a real queue)
    gpus: int = 1  # >1 selects the multi-GPU job definition on AWS
    job_definition: str | None = None  # explicit override (seed flag --job-definition)
    job_queue: str | None = None  # explicit override (seed flag --job-queue)
    max_hours: float | None = None  # each attempt's time limit (Batch's job timeout); None: the definition's
    array_size: int | None = None  # a sweep: this many children (2 or more: Batch's array job)
    slots: int = 1  # local mode: how many of a sweep's children may train at once


@dataclass(frozen=True)
class Attempt:
    started_at: float | None
    stopped_at: float | None
    exit_code: int | None
    reason: str | None  # e.g. "Host EC2 (instance i-0abc) terminated." for a Spot reclaim
    log_stream: str | None = None

    @property
    def spot_reclaimed(self) -> bool:
        """The instance went away under the attempt (Batch says "Host EC2 ... terminated.")."""
        return bool(self.reason and self.reason.startswith("Host EC2") and not self.stopped)

    @property
    def interrupted_locally(self) -> bool:
        """A local attempt ended from outside the job (see ``LOCAL_INTERRUPTION``)."""
        return interrupted_locally(self.reason)

    @property
    def stopped(self) -> bool:
        """The trainer honoured a SIGTERM and exited 143: the Spot notice, a cancel or the job timeout."""
        return self.exit_code == EXIT_STOPPED


@dataclass(frozen=True)
class JobInfo:
    job_id: str
    job_name: str
    status: str  # one of ACTIVE_STATES or FINAL_STATES
    status_reason: str | None = None
    created_at: float | None = None  # epoch seconds
    started_at: float | None = None
    stopped_at: float | None = None
    queue: str | None = None
    output: str | None = None  # run URI (TrainingSpec.output)
    dataset: str | None = None  # dataset version URI
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)
    log_stream: str | None = None  # current attempt's stream, once it exists
    cancel_requested: bool = False  # a cancel was asked for and the job is still stopping (local mode knows)
    array_size: int | None = None  # a sweep's parent job: how many children it has
    array_index: int | None = None  # a sweep's child: its index
    child_counts: dict[str, int] | None = None  # a sweep's parent: its children per state, when known
    sweep: str | None = None  # a sweep's jobs (parent and children): the sweep manifest's URI

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATES

    @property
    def is_sweep(self) -> bool:
        return self.array_size is not None

    @property
    def cancelled(self) -> bool:
        """Ended by `ocrbatch cancel` (Batch calls it FAILED; the reason we sent says why)."""
        return self.status == "FAILED" and (self.status_reason or "").startswith(CANCELLED_BY_OCRBATCH)

    def attempt_ends(self) -> list[str]:
        """How each attempt ended: "succeeded", "failed", "reclaimed" (its host went away, or the Spot
        notice stopped the trainer and the job was retried: Batch retries exit 143 only then; locally,
        interrupted from outside the job and retried), or
        "stopped" (exit 143 with no retry after it: a cancel, the job timeout, or a notice on the last
        attempt allowed)."""
        ends = []
        for number, attempt in enumerate(self.attempts, start=1):
            retried = number < len(self.attempts) or not self.done
            if attempt.exit_code == 0:
                ends.append("succeeded")
            elif attempt.spot_reclaimed or attempt.interrupted_locally or (attempt.stopped and retried):
                ends.append("reclaimed")
            elif attempt.stopped:
                ends.append("stopped")
            else:
                ends.append("failed")
        return ends

    def to_json(self) -> dict:
        data = asdict(self)
        data["attempts"] = [
            asdict(a) | {"spot_reclaimed": end == "reclaimed" and not a.interrupted_locally, "ended": end}
            for a, end in zip(self.attempts, self.attempt_ends())
        ]
        data["cancelled"] = self.cancelled
        return data


class JobBackend(Protocol):
    name: str  # "aws" or "local"
    store: ObjectStore  # where datasets and runs live for this backend

    def submit(self, request: JobRequest) -> JobInfo: ...

    def describe(self, job_id: str) -> JobInfo: ...

    def list_jobs(self, *, limit: int = 50) -> list[JobInfo]: ...

    def cancel(self, job_id: str, reason: str) -> JobInfo:
        """Cancel a waiting job, terminate a running one; a sweep's parent: every child of it."""
        ...

    def children(self, job_id: str) -> list[JobInfo]:
        """A sweep's children (its parent job's id), in index order."""
        ...

    def log_events(self, job_id: str, *, start_from: str | None = None) -> tuple[list[str], str | None]:
        """New log lines of the job's current attempt since ``start_from`` and the token to continue
        from. Returns ([], start_from) while the log does not exist yet (a job not started)."""
        ...
