"""What every command shares: where it acts, output rules, and one-line errors (handled once, by the app).

Output rules: results go to stdout (human text, or exactly one JSON document with ``--json``);
progress, warnings and errors go to stderr. Errors are one line with no traceback unless
OCRBATCH_DEBUG is set. Exit codes: 0 ok, 1 a job/run failed, 2 bad input, 3 environment problem,
124 a ``--timeout`` wait ran out, 130 interrupted.
"""

import functools
import json
import os
import shlex
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable

import typer

from ocrbatch.errors import OcrbatchError
from ocrbatch.wiring import Deadline, Target, Wiring, resolve_target

if TYPE_CHECKING:
    from ocrbatch.jobs.backend import JobBackend

# Injected into the monitor; tests replace them with a fake clock so nothing really waits.
clock = time.time
sleep = time.sleep


# --- where a command acts --------------------------------------------------------------------------


def make_target(local: bool | None, **flags) -> Target:
    """The shared flags (and OCRBATCH_BACKEND) resolved to where the command acts."""
    return resolve_target(local, environ=os.environ, **flags)


def wire(target: Target, deadline: Deadline | None = None) -> Wiring:
    return Wiring(target, deadline)


def open_backend(target: Target, deadline: Deadline | None = None) -> "JobBackend":
    """The target's job backend (its AWS calls bounded by ``deadline``); the seam the CLI tests
    replace with a scripted one."""
    return wire(target, deadline).backend


def open_prices(target: Target) -> tuple:
    """``(SpotPrices, OnDemandPrices)`` of the target's region; the seam the cost tests replace."""
    wiring = wire(target)
    return wiring.spot_prices, wiring.on_demand_prices


def backend_flags(target: Target) -> str:
    """The flags that point another command at the same backend (for the hints we print)."""
    if target.local:
        return " --local" + (f" --home {shlex.quote(str(target.home))}" if target.home else "")
    flags = " --aws"
    named = (
        ("--stack", target.stack), ("--region", target.region), ("--profile", target.profile),
        ("--s3-bucket", target.bucket), ("--job-queue", target.job_queue), ("--job-definition", target.job_definition),
    )
    for flag, value in named:
        if value:
            flags += f" {flag} {shlex.quote(value)}"
    return flags


def detach_hint(job_id: str, target: Target, headline: str | None = None) -> None:
    info(headline or f"detached from job {job_id}; it keeps running.")
    info(f"  reattach: ocrbatch monitor {job_id}{backend_flags(target)}")
    info(f"  cancel:   ocrbatch cancel {job_id}{backend_flags(target)}")
    if not target.local:
        info("  alerts:   a failure or a blocked queue also goes to the stack's alert topic (`ocrbatch doctor`: who gets it)")


# --- output ----------------------------------------------------------------------------------


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def human_bytes(count: int) -> str:
    """Decimal units, as S3 and the peers' progress lines count: ``950 B``, ``99.2 MB``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def info(message: str) -> None:
    """Progress and hints: stderr, so stdout stays clean for results."""
    typer.echo(message, err=True)


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def print_table(rows: list[tuple], *, last_unpadded: bool = False) -> None:
    """Columns padded to their widest cell; a long last column (a URI) is left as it is."""
    padded = rows if not last_unpadded else [row[:-1] for row in rows]
    widths = [max(len(str(row[i])) for row in padded) for i in range(len(padded[0]))]
    for row, cells in zip(rows, padded):
        line = "  ".join(str(cell).ljust(width) for cell, width in zip(cells, widths))
        typer.echo((line + "  " + str(row[-1])) if last_unpadded else line.rstrip())


# --- errors ----------------------------------------------------------------------------------


def unreachable_message(exc: BaseException, elapsed_s: float | None) -> str:
    """Which endpoint, how long the command tried, why, and what to check."""
    from ocrbatch.aws_clients import connection_refused
    from ocrbatch.jobs.monitor import unreachable

    endpoint = unreachable(exc) or "AWS"
    why = "connection refused" if connection_refused(exc) else type(exc).__name__
    tried = f" after {elapsed_s:.0f} s" if elapsed_s is not None and elapsed_s >= 1 else ""
    return (
        f"cannot reach {endpoint} ({why}){tried}: check the network or proxy, the region (--region), "
        "and AWS_ENDPOINT_URL if you use one"
    )


def one_line(exc: BaseException, elapsed_s: float | None = None) -> tuple[str, int]:
    """The message and exit code the user gets for an exception (``elapsed_s``: how long the command ran)."""
    if isinstance(exc, OcrbatchError):
        return str(exc), exc.exit_code
    try:
        from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, ProfileNotFound
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import HTTPClientError
    except ImportError:  # pragma: no cover - botocore is a hard dependency
        pass
    else:
        if isinstance(exc, NoCredentialsError):
            return "no AWS credentials found: run `aws configure`, set AWS_PROFILE, or use --local", 3
        if isinstance(exc, ProfileNotFound):
            return f"{exc}", 3
        if isinstance(exc, NoRegionError):
            return "no AWS region: pass --region or set AWS_REGION", 3
        if isinstance(exc, (BotoConnectionError, HTTPClientError)):
            return unreachable_message(exc, elapsed_s), 3
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            return f"AWS {exc.operation_name} failed: {error.get('Code')}: {error.get('Message')}", 3
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)):
        return f"{exc.strerror}: {exc.filename}", 2
    if isinstance(exc, OSError) and exc.strerror:  # a full or read-only disk: which path, and what to do
        from ocrbatch.datasets.transport import DISK_ERRNOS, disk_error

        if exc.errno in DISK_ERRNOS and (exc.filename or exc.filename2):
            return str(disk_error(exc, exc.filename)), 3
        return exc.strerror + (f": {exc.filename}" if exc.filename else ""), 3
    return f"{type(exc).__name__}: {exc}", 3


def one_line_errors(command: Callable) -> Callable:
    """Any exception out of ``command`` becomes one line on stderr and the right exit code.

    The app wraps every registered command with it (``ocrbatch/cli/__init__.py``), so no command
    handles errors itself.
    """

    @functools.wraps(command)
    def reporting(*args, **kwargs):
        started = time.monotonic()
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            info("interrupted")
            raise typer.Exit(130)
        except Exception as exc:  # noqa: BLE001 - this is the CLI's last line of defence
            if os.environ.get("OCRBATCH_DEBUG"):  # the traceback too; the exit code stays what it means
                traceback.print_exc()
            message, code = one_line(exc, time.monotonic() - started)
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(code)

    return reporting


def quiet_paddle_startup() -> None:
    """Commands that import paddle (demo, predict, label) would print its warning that it found no
    ccache (it matters only for compiling C++ extensions)."""
    from ocrbatch.paddle_notices import quiet_paddle_warnings

    quiet_paddle_warnings()
