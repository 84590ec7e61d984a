"""Watching a job: ``monitor`` (states, progress and log to its end) and ``logs`` (the raw log).

Both poll through :class:`~ocrbatch.jobs.monitor.JobMonitor`, so both back off while nothing changes
and ride out throttling. Ctrl-C detaches; the job keeps running.
"""

import time
from typing import Annotated

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import JsonOpt, TimeoutOpt, acts_on_target, parse_timeout
from ocrbatch.errors import BadInput, WaitTimedOut
from ocrbatch.jobs.backend import JobBackend, JobInfo
from ocrbatch.wiring import Deadline, Target


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
    app.command("logs")(logs)


def job_monitor(backend: JobBackend, *, show_logs: bool = True):
    from ocrbatch.jobs.monitor import JobMonitor

    return JobMonitor(backend, emit=common.info, clock=common.clock, sleep=common.sleep, show_logs=show_logs)


def print_final(backend: JobBackend, job: JobInfo, json_output: bool, data: dict | None = None) -> None:
    """Print a job's final result (``data``: its snapshot, when already read) and exit 1 when it failed."""
    from ocrbatch.jobs.job_report import describe_snapshot, snapshot

    data = data if data is not None else snapshot(backend, job)
    if json_output:
        common.emit_json(data)
    else:
        for line in describe_snapshot(data):
            typer.echo(line)
    if job.status == "FAILED":
        raise typer.Exit(1)


@acts_on_target(batch=True, job="required")
def monitor(
    target: Target,
    job: str,
    once: Annotated[bool, typer.Option("--once", "--no-follow", help="Print the current state and exit.")] = False,
    no_logs: Annotated[bool, typer.Option("--no-logs", help="Do not tail the job's log.")] = False,
    timeout: TimeoutOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Follow a job to its end (exit 0 SUCCEEDED, 1 FAILED, 124 --timeout). Ctrl-C detaches; the job keeps running.
    A sweep: its children's states, the best so far and the failed ones (--json: each child)."""
    from ocrbatch.jobs.monitor import NoAnswerInTime, PollSettings, call_within
    from ocrbatch.jobs.runs import resolve_job

    timeout_s = parse_timeout(timeout)

    grace = PollSettings().deadline_grace
    started = time.monotonic()
    # Every AWS call ends by then, even one let go of at the deadline (a poll begun on it gets the grace).
    deadline = None if timeout_s is None else Deadline(timeout_s + grace)

    def attach() -> tuple[JobBackend, JobInfo]:
        backend = common.open_backend(target, deadline)
        return backend, resolve_job(backend, job, flags=common.backend_flags(target), say=common.info)

    try:  # finding the stack and the job counts against --timeout too
        backend, current = call_within(timeout_s, attach)
    except NoAnswerInTime:
        detail = ("no answer from AWS while looking the job up: check the network or proxy, the region (--region) "
                  "and AWS_ENDPOINT_URL")
        raise WaitTimedOut(job, "not known yet", timeout_s, detail=detail) from None
    if current.is_sweep:
        from ocrbatch.cli.sweep import monitor_sweep

        left = None if timeout_s is None else max(timeout_s - (time.monotonic() - started), 0)
        return monitor_sweep(backend, current, target, once=once, timeout_s=left, json_output=json_output,
                             asked_s=timeout_s)
    if not once:
        try:
            left = None if timeout_s is None else max(timeout_s - (time.monotonic() - started), 0)
            current = job_monitor(backend, show_logs=not no_logs).follow(current.job_id, timeout=left)
        except KeyboardInterrupt:
            common.detach_hint(current.job_id, target)
            raise typer.Exit(130)
        except WaitTimedOut as stopped:
            stopped = WaitTimedOut(stopped.job_id, stopped.status, timeout_s)  # the user's --timeout, not what was left
            try:  # it may have ended in the moment since the last poll; a silent network gets a few seconds
                current, data = call_within(grace, lambda: _final_state(backend, current.job_id))
            except Exception:  # noqa: BLE001 - the timeout is the news; the state is only a bonus
                common.detach_hint(current.job_id, target, headline=f"{stopped} (its state could not be read)")
                raise typer.Exit(stopped.exit_code)
            if not current.done:
                common.detach_hint(current.job_id, target, headline=str(stopped))
                print_final(backend, current, json_output, data)
                raise typer.Exit(stopped.exit_code)
            print_final(backend, current, json_output, data)
            return
    print_final(backend, current, json_output)


def _final_state(backend: JobBackend, job_id: str) -> tuple[JobInfo, dict]:
    from ocrbatch.jobs.job_report import snapshot

    job = backend.describe(job_id)
    return job, snapshot(backend, job)


@acts_on_target(batch=True, job="required")
def logs(
    target: Target,
    job: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until the job ends.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Print a job's log (the current attempt's stream); a sweep's child: SWEEP:INDEX."""
    from ocrbatch.jobs.runs import resolve_job

    if follow and json_output:
        raise BadInput("--follow streams text lines; use --json without --follow")
    backend = common.open_backend(target)
    current = resolve_job(backend, job, flags=common.backend_flags(target), say=common.info)
    if current.is_sweep:
        raise BadInput(f"job {current.job_id} is a sweep of {current.array_size}: each child has its own log, "
                       f"e.g. ocrbatch logs {current.job_id}:0{common.backend_flags(target)}")
    collected: list[str] = []
    printed = 0

    def take(lines: list[str]) -> None:
        nonlocal printed
        if json_output:
            collected.extend(lines)
        else:
            for line in lines:
                typer.echo(line)
            printed += len(lines)

    try:
        current, token = job_monitor(backend).tail_logs(current.job_id, take, follow=follow)
    except KeyboardInterrupt:
        flags = common.backend_flags(target)
        common.info(f"stopped following; the job keeps running (ocrbatch logs {current.job_id} -f{flags})")
        raise typer.Exit(130)
    if json_output:
        common.emit_json({"job_id": current.job_id, "status": current.status, "lines": collected})
    elif not printed:
        common.info(_no_lines(current, has_stream=token is not None or bool(current.log_stream)))


def _no_lines(job: JobInfo, *, has_stream: bool) -> str:
    """Why ``logs`` printed nothing, so silence is never the answer."""
    if has_stream:
        where = f"its log stream {job.log_stream}" if job.log_stream else "its log"
        if job.done:
            return f"no lines in {where}: job {job.job_id} ended {job.status}"
        return f"no lines in {where} yet: job {job.job_id} is {job.status}"
    if job.done and not job.started_at:
        why = f" ({job.status_reason})" if job.status_reason else ""
        return f"job {job.job_id} ended {job.status} before it started{why}: it has no log"
    if job.done:
        return f"job {job.job_id} ended {job.status}; no log was found for it"
    return f"no log yet: job {job.job_id} is {job.status} (the log appears once it starts)"
