"""`ocrbatch demo`: the first-run experience."""

from pathlib import Path
from typing import Annotated

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import HomeOpt, JsonOpt


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    output_dir: Annotated[
        Path, typer.Option("--output-dir", help="Where the trained model is written.")
    ] = Path("pinball-model"),
    count: Annotated[int, typer.Option(help="Generated training images.", min=200)] = 20000,
    train_seconds: Annotated[
        int,
        typer.Option("--train-seconds", help="Training time budget, wall clock (the whole demo fits in 5 minutes on 2 idle cores).", min=10),
    ] = 190,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 7,
    force: Annotated[bool, typer.Option("--force", help="Replace a different model in --output-dir.")] = False,
    home: HomeOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Train a pinball score reader on this machine (no AWS, no Docker), then read some scores with it."""
    from ocrbatch.demo import run_demo

    common.quiet_paddle_startup()
    wiring = common.wire(common.make_target(True, home=home))
    report = run_demo(
        output_dir=output_dir, count=count, train_seconds=train_seconds, seed=seed, force=force,
        backend=wiring.backend, work_dir=wiring.target.home_dir / "demo", log=common.info,
    )
    if json_output:
        common.emit_json(report)
        return
    typer.echo(f"held-out accuracy: {report['accuracy']:.1%} on {report['val_images']} images "
               f"({report['train_seconds']:.0f} s of training)")
    typer.echo("sample predictions (label -> read):")
    for sample in report["samples"]:
        mark = "ok " if sample["correct"] else "BAD"
        typer.echo(f"  {mark} {sample['label']:>14} -> {sample['text']:<14} ({sample['score']:.2f})")
    typer.echo(f"model: {report['model_dir']}")
    if report.get("report"):
        typer.echo(f"report: {report['report']}")
    typer.echo("load it with the stock paddleocr package:")
    for line in report["python"]:
        typer.echo(f"  {line}")
