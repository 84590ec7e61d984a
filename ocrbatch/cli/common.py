"""What every command shares: options defined once, output rules, and one-line errors.

Output rules: results go to stdout (human text, or exactly one JSON document with ``--json``);
progress, warnings and errors go to stderr. Errors are one line with no traceback unless
OCRBATCH_DEBUG is set. Exit codes: 0 ok, 1 a job/run failed, 2 bad input, 3 environment problem,
124 a ``--timeout`` wait ran out.
"""

import functools
import json
import os
import sys
import traceback
from typing import Annotated, Any, Callable, Optional

import typer

from ocrbatch.errors import OcrbatchError
from ocrbatch.wiring import Target, Wiring, resolve_target

# --- options shared by many commands (defined once) -------------------------------------------

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout, nothing else.")]
LocalOpt = Annotated[
    Optional[bool],
    typer.Option(
        "--local/--aws",
        help="Run on this machine (no AWS) or on the deployed AWS stack. "
        "Default: OCRBATCH_BACKEND, else aws when a stack/bucket/queue flag is given, else local.",
        show_default=False,
    ),
]
StackOpt = Annotated[
    Optional[str],
    typer.Option("--stack", envvar="OCRBATCH_STACK", help="CloudFormation stack to read names from."),
]
RegionOpt = Annotated[Optional[str], typer.Option("--region", help="AWS region (default AWS_REGION, us-west-2).")]
ProfileOpt = Annotated[Optional[str], typer.Option("--profile", help="AWS profile (default AWS_PROFILE).")]
BucketOpt = Annotated[
    Optional[str], typer.Option("--s3-bucket", "--bucket", help="Bucket to use instead of the stack's.")
]
HomeOpt = Annotated[
    Optional[str],
    typer.Option("--home", envvar="OCRBATCH_HOME", help="Local mode's state folder (default ~/.ocrbatch)."),
]


def make_target(local: bool | None, **flags) -> Target:
    """The shared flags (and OCRBATCH_BACKEND) resolved to where the command acts."""
    return resolve_target(local, environ=os.environ, **flags)


def wire(target: Target) -> Wiring:
    """The store, backend and clients of ``target``; a seam the CLI tests replace."""
    return Wiring(target)


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


def raise_bad_input(message: str) -> None:
    from ocrbatch.errors import BadInput

    raise BadInput(message)


# --- errors ----------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, OcrbatchError):
        return str(exc), exc.exit_code
    try:
        from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, ProfileNotFound
        from botocore.exceptions import EndpointConnectionError
    except ImportError:  # pragma: no cover - botocore is a hard dependency
        pass
    else:
        if isinstance(exc, NoCredentialsError):
            return "no AWS credentials found: run `aws configure`, set AWS_PROFILE, or use --local", 3
        if isinstance(exc, ProfileNotFound):
            return f"{exc}", 3
        if isinstance(exc, NoRegionError):
            return "no AWS region: pass --region or set AWS_REGION", 3
        if isinstance(exc, EndpointConnectionError):
            return f"cannot reach AWS: {exc}", 3
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            return f"AWS {exc.operation_name} failed: {error.get('Code')}: {error.get('Message')}", 3
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)):
        return f"{exc.strerror}: {exc.filename}", 2
    return f"{type(exc).__name__}: {exc}", 3


def handle_errors(func: Callable) -> Callable:
    """Turn any exception into one line on stderr and the right exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            info("interrupted")
            raise typer.Exit(130)
        except Exception as exc:  # noqa: BLE001 - this is the CLI's last line of defence
            if os.environ.get("OCRBATCH_DEBUG"):  # the traceback too; the exit code stays what it means
                traceback.print_exc()
            message, code = _one_line(exc)
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(code)

    return wrapper


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()
