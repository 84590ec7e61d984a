"""Following a job to its end, on any backend: states, reasons, attempts, training progress, log tail.

:class:`JobMonitor` polls a :class:`~ocrbatch.jobs.backend.JobBackend` and reports only what changed,
as plain lines through an ``emit`` callback (the CLI sends them to stderr). It explains a Spot
reclaim and the retry that follows, reads the trainer's ``progress.json`` from the run's folder in
the store, tails the log once its stream exists, and, when the job has sat in RUNNABLE for a while,
asks the backend why (AWS: :mod:`ocrbatch.jobs.diagnosis`). Polling backs off while nothing changes
and when the service throttles; the clock and sleep are injected so tests run instantly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, TypeVar

from ocrbatch.errors import WaitTimedOut
from ocrbatch.jobs.backend import JobBackend, JobInfo, what_interrupted
from ocrbatch.jobs.job_report import format_duration, format_interruption, format_position, format_progress
from ocrbatch.jobs.log_noise import NoiseFilter
from ocrbatch.jobs.runs import read_progress, store_of

Emit = Callable[[str], None]
T = TypeVar("T")



class NoAnswerInTime(Exception):
    """A call bounded by :func:`call_within` had not returned when its time was up."""


def call_within(seconds: float | None, call: Callable[[], T]) -> T:
    """``call()``'s result, or :class:`NoAnswerInTime` after ``seconds`` (None: no bound).

    The call runs in a daemon thread, so a network that neither answers nor fails (a black-holed
    endpoint, a stalled read) cannot hold a deadline: the thread is left behind, and the process
    does not wait for it when it exits."""
    if seconds is None:
        return call()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="bounded-call", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        raise NoAnswerInTime(f"no answer within {seconds:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def unreachable(exc: BaseException) -> str | None:
    """The endpoint of a network failure (botocore names it), else None."""
    kwargs = getattr(exc, "kwargs", None) or {}
    endpoint = kwargs.get("endpoint_url")
    if not endpoint:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else endpoint


@dataclass(frozen=True)
class PollSettings:
    min_interval: float = 3.0
    max_interval: float = 30.0
    growth: float = 1.5  # interval multiplier while nothing changes
    runnable_diagnosis_after: float = 180.0  # seconds in RUNNABLE before explaining why
    rediagnose_every: float = 900.0
    max_transient_errors: int = 8  # consecutive throttling/network errors before giving up
    deadline_grace: float = 3.0  # how far past its --timeout a poll (or the report) begun on the deadline may run
    # A new step alone is shown at most this often: a run logs thousands of steps, and a line per poll
    # buried the lines that matter (a new epoch, an evaluation, an attempt, the end are shown at once).
    progress_every: float = 30.0


class JobMonitor:
    def __init__(
        self,
        backend: JobBackend,
        *,
        emit: Emit,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        settings: PollSettings = PollSettings(),
        diagnose: Callable[[str], list[str]] | None = None,
        show_logs: bool = True,
    ):
        self.backend = backend
        self.emit = emit
        self.clock = clock
        self.sleep = sleep
        self.settings = settings
        self.diagnose = diagnose if diagnose is not None else getattr(backend, "diagnose", None)
        self.show_logs = show_logs
        self._status: str | None = None
        self._reason: str | None = None
        self._attempts_seen = 0
        self._progress_seen: tuple | None = None
        self._progress_shown_at: float | None = None
        self._resume_seen: object = None
        self._costs_seen: list[dict] = []
        self._log_token: str | None = None
        self._log_stream_announced: str | None = None
        self._noise = NoiseFilter()  # Paddle's start-up notices stay in the raw log only
        self._runnable_since: float | None = None
        self._diagnosed_at: float | None = None
        self._failing_since: float | None = None  # the first of the current run of failed polls

    # --- the loop -------------------------------------------------------------------------

    def follow(self, job_id: str, *, timeout: float | None = None) -> JobInfo:
        """Poll until the job is SUCCEEDED or FAILED; returns its final description.

        With ``timeout`` (seconds), raise :class:`WaitTimedOut` once that long has passed with the
        job still going; the last poll falls on the deadline, not up to a poll interval before it.
        """
        interval = self.settings.min_interval
        errors = 0
        deadline = None if timeout is None else self.clock() + timeout
        status = "SUBMITTED"
        while True:
            # A poll that hangs (the network neither answering nor failing) is let go at the deadline.
            bound = None if deadline is None else max(deadline - self.clock(), 0) + self.settings.deadline_grace
            try:
                job, changed = call_within(bound, lambda: self.poll(job_id))
                errors, self._failing_since = 0, None
            except NoAnswerInTime:
                raise WaitTimedOut(job_id, status, timeout) from None
            except Exception as exc:  # noqa: BLE001 - only transient errors are swallowed below
                if not is_transient(exc):
                    raise
                errors += 1
                if errors >= self.settings.max_transient_errors:
                    raise
                self.emit(self._retry_line(exc, deadline))
                interval = min(interval * 2, self.settings.max_interval * 2)
            else:
                status = job.status
                if job.done:
                    if self.show_logs:
                        # CloudWatch delivers the last lines a moment after the job stops.
                        self.sleep(self.settings.min_interval)
                        self._drain_logs(job)
                    return job
                interval = self.settings.min_interval if changed else min(
                    interval * self.settings.growth, self.settings.max_interval
                )
            if deadline is not None:
                left = deadline - self.clock()
                if left <= 0:
                    raise WaitTimedOut(job_id, status, timeout)
                interval = min(interval, left)
            self.sleep(interval)

    def _retry_line(self, exc: Exception, deadline: float | None = None) -> str:
        """What a user can act on: which endpoint, for how long, until when, and what to check."""
        if self._failing_since is None:
            self._failing_since = self.clock()
        failing_for = self.clock() - self._failing_since
        until = "" if deadline is None else f" until the --timeout ({format_duration(max(deadline - self.clock(), 0))} left)"
        endpoint = unreachable(exc)
        if endpoint is None:
            return f"the service is busy ({_error_code(exc)}); retrying{until}"
        return (
            f"cannot reach {endpoint} ({type(exc).__name__}) for {format_duration(failing_for)}; retrying{until}: "
            "check the network or proxy, the region (--region) and AWS_ENDPOINT_URL"
        )

    def tail_logs(
        self, job_id: str, on_lines: Callable[[list[str]], None], *, follow: bool = False
    ) -> tuple[JobInfo, str | None]:
        """Hand the job's log to ``on_lines`` as it is read, until caught up or, with ``follow``,
        until the job ends; returns the job's last description and the log token (None: no log).

        The same polling as :meth:`follow`: backing off while nothing changes, riding out throttling
        and network errors. Lines go out raw, Paddle's start-up notices included.
        """
        job = self.backend.describe(job_id)
        token: str | None = None
        interval = self.settings.min_interval
        errors = 0
        while True:
            try:
                lines, token = self.backend.log_events(job_id, start_from=token)
            except Exception as exc:  # noqa: BLE001 - _ride_out re-raises all but transient errors
                errors = self._ride_out(exc, errors)
                self.sleep(min(interval * 2, self.settings.max_interval))
                continue
            errors, self._failing_since = 0, None
            if lines:
                on_lines(lines)
                interval = self.settings.min_interval
                continue  # more may be waiting: read until caught up
            if not follow or job.done:
                return job, token
            self.sleep(interval)
            interval = min(interval * self.settings.growth, self.settings.max_interval)
            try:
                job = self.backend.describe(job_id)
            except Exception as exc:  # noqa: BLE001 - as above
                errors = self._ride_out(exc, errors)

    def _ride_out(self, exc: Exception, errors: int) -> int:
        """Re-raise ``exc`` unless it is transient and not yet one too many; returns the new count."""
        if not is_transient(exc) or errors + 1 >= self.settings.max_transient_errors:
            raise exc
        self.emit(self._retry_line(exc))
        return errors + 1

    def poll(self, job_id: str) -> tuple[JobInfo, bool]:
        """Describe the job once and emit what changed since the last poll."""
        job = self.backend.describe(job_id)
        changed = self._report_status(job)
        changed |= self._report_attempts(job)
        changed |= self._report_progress(job)
        if self.show_logs:
            changed |= self._report_logs(job)
        self._maybe_diagnose(job)
        return job, changed

    # --- what is reported -------------------------------------------------------------------

    def _report_status(self, job: JobInfo) -> bool:
        if job.status == self._status and job.status_reason == self._reason:
            return False
        if job.status == "RUNNABLE" and self._status != "RUNNABLE":
            self._runnable_since = self._entered_runnable_at(job)
            self._diagnosed_at = None
        first = self._status is None
        self._status, self._reason = job.status, job.status_reason
        line = f"{job.status}"
        if job.status_reason:
            line += f": {job.status_reason}"
        if first:
            line = f"job {job.job_id} ({job.job_name}) is {line}"
        self.emit(line)
        return True

    def _entered_runnable_at(self, job: JobInfo) -> float:
        if self._status is not None:
            return self.clock()  # we watched it happen
        # Attached to a job already waiting: it has waited since it was created or last stopped.
        stamps = [job.created_at] + [a.stopped_at for a in job.attempts]
        known = [s for s in stamps if s]
        return max(known) if known else self.clock()

    def _report_attempts(self, job: JobInfo) -> bool:
        new = job.attempts[self._attempts_seen :]
        ends = job.attempt_ends()
        for number, attempt in enumerate(new, start=self._attempts_seen + 1):
            retrying = not job.done
            end = ends[number - 1]
            if end == "reclaimed" and attempt.interrupted_locally:
                line = f"attempt {number} interrupted, not a failure: {what_interrupted(attempt.reason)}"
                if number == len(job.attempts) and retrying:
                    line += f"; retrying as attempt {number + 1}, resuming from the last checkpoint"
            elif end == "reclaimed":
                how = ("the trainer checkpointed on the Spot notice" if attempt.stopped
                       else f"the instance went away ({attempt.reason})")
                line = f"attempt {number}: Spot reclaim, not a failure: {how}"
                line += (
                    f"; Batch retries it as attempt {number + 1}, resuming from the last checkpoint"
                    if number == len(job.attempts) and retrying
                    else ""
                )
            elif end == "stopped":
                line = (f"attempt {number} stopped on SIGTERM (exit code 143), checkpoint saved: "
                        f"{job.status_reason or 'a cancel, the job timeout or a reclaim on the last attempt'}")
            elif attempt.exit_code == 0 or (attempt.exit_code is None and not attempt.reason):
                line = f"attempt {number} finished" + (" (exit code 0)" if attempt.exit_code == 0 else "")
            else:
                detail = ", ".join(
                    part
                    for part in (
                        f"exit code {attempt.exit_code}" if attempt.exit_code is not None else None,
                        attempt.reason,
                    )
                    if part
                )
                line = f"attempt {number} failed: {detail}"
                if retrying:
                    line += f"; retrying as attempt {number + 1}"
            self.emit(line)
        self._attempts_seen = len(job.attempts)
        return bool(new)

    def _report_progress(self, job: JobInfo) -> bool:
        if job.status not in ("STARTING", "RUNNING") and not job.done:
            return False
        progress = read_progress(store_of(self.backend), job)
        if not progress:
            return False
        changed = False
        for interruption in (progress.get("interruptions") or [])[len(self._costs_seen):]:
            self._costs_seen.append(interruption)
            self.emit(format_interruption(interruption))
            changed = True
        resumed = progress.get("resumed_from")
        if resumed and resumed != self._resume_seen:
            self._resume_seen = resumed
            self.emit(f"resumed from checkpoint: {format_position(resumed)}")
            changed = True
        milestone = tuple(progress.get(key) for key in ("state", "epoch", "attempt", "accuracy", "message"))
        signature = (milestone, progress.get("step"))
        if signature != self._progress_seen:
            now = self.clock()
            seen = self._progress_seen
            due = self._progress_shown_at is None or now - self._progress_shown_at >= self.settings.progress_every
            if seen is None or milestone != seen[0] or due:
                self._progress_seen, self._progress_shown_at = signature, now
                self.emit("progress: " + format_progress(progress))
                changed = True
        return changed

    def _report_logs(self, job: JobInfo) -> bool:
        if not job.log_stream and job.status not in ("RUNNING",) and not job.done:
            return False
        lines, self._log_token = self.backend.log_events(job.job_id, start_from=self._log_token)
        if job.log_stream and job.log_stream != self._log_stream_announced and lines:
            self._log_stream_announced = job.log_stream
            self.emit(f"log stream {job.log_stream}:")
        for line in lines:
            if self._noise.keep(line):
                self.emit(f"  | {line}")
        return bool(lines)

    def _drain_logs(self, job: JobInfo) -> None:
        try:
            self._report_logs(job)
        except Exception as exc:  # noqa: BLE001 - the job's result matters more than its last lines
            if not is_transient(exc):
                raise

    def _maybe_diagnose(self, job: JobInfo) -> None:
        if job.status != "RUNNABLE" or self.diagnose is None or self._runnable_since is None:
            return
        now = self.clock()
        waited = now - self._runnable_since
        if waited < self.settings.runnable_diagnosis_after:
            return
        if self._diagnosed_at is not None and now - self._diagnosed_at < self.settings.rediagnose_every:
            return
        self._diagnosed_at = now
        self.emit(f"still RUNNABLE after {format_duration(waited)}; checking why:")
        try:
            findings = self.diagnose(job.job_id)
        except Exception as exc:  # noqa: BLE001 - a diagnosis must never stop the monitor
            findings = [f"could not diagnose: {type(exc).__name__}: {exc}"]
        for finding in findings:
            self.emit(f"  - {finding}")


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code") or type(exc).__name__
    return type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Throttling and network hiccups that outlived botocore's own retries: poll again later."""
    try:
        from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
        from botocore.exceptions import ReadTimeoutError
    except ImportError:  # pragma: no cover - botocore is a hard dependency
        return False
    if isinstance(exc, (ConnectionClosedError, EndpointConnectionError, ReadTimeoutError)):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return "Throttl" in code or code in ("TooManyRequestsException", "RequestLimitExceeded") or status >= 500
    return False
