"""`ocrbatch doctor`: one line per readiness check, pass or what to do (exit 3 when one fails)."""

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import JsonOpt, acts_on_target
from ocrbatch.wiring import Target

_MARK = {"ok": "ok  ", "fail": "FAIL", "warn": "warn", "skip": "skip"}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


@acts_on_target(queue=True)  # a --job-queue is checked beside the stack's queues (or without a stack)
def doctor(target: Target, json_output: JsonOpt = False) -> None:
    """Check credentials, the stack, compute environments, queues, image, GPU quota, alerts, subnets and bucket."""
    from ocrbatch.jobs import doctor as checks_of
    from ocrbatch.jobs.check_result import failed as any_failed
    from ocrbatch.stack_outputs import DEFAULT_STACK_NAME

    if target.local:
        mode = "local"
        checks = checks_of.check_local(target.home_dir)
    else:
        mode = "aws"
        clients = common.wire(target).aws
        checks = checks_of.check_aws(
            clients, region=clients.region, stack_name=target.stack or DEFAULT_STACK_NAME, bucket=target.bucket,
            job_queue=target.job_queue, stack_named=target.stack is not None,
        )
    failed = any_failed(checks)
    if json_output:
        common.emit_json({"backend": mode, "ok": not failed, "checks": [check.to_json() for check in checks]})
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            typer.echo(f"{_MARK[check.status]}  {check.name.ljust(width)}  {check.detail}")
        if mode == "local":
            common.info("checked local mode; pass --aws (or --stack NAME) to check the AWS deployment")
    if failed:
        raise typer.Exit(3)
