"""`ocrbatch demo` (the first-run experience) and `ocrbatch predict` (use a trained model)."""

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import HomeOpt, JsonOpt, acts_on_target
from ocrbatch.wiring import Target


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("predict")(predict)


def _quiet_paddle_startup() -> None:
    """Both commands import paddle here, which warns that it found no ccache (it would matter only
    for compiling C++ extensions); the job logs keep such notices, the user's screen need not."""
    import warnings

    warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)


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

    _quiet_paddle_startup()
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


@acts_on_target()
def predict(
    target: Target,
    images: Annotated[List[Path], typer.Argument(help="Images to read.", show_default=False)],
    model: Annotated[
        str, typer.Option("--model", help="A model folder, or a job id / `latest` to use that job's model.")
    ],
    json_output: JsonOpt = False,
) -> None:
    """Read text from images with a trained model (stock paddleocr inference)."""
    from ocrbatch.predict import predict_images

    _quiet_paddle_startup()
    model_dir = Path(model)
    if not model_dir.is_dir():
        from ocrbatch.jobs.runs import model_of_job

        wiring = common.wire(target)
        model_dir = model_of_job(wiring.backend, model, wiring.models_dir, log=common.info)
    predictions = predict_images(model_dir, list(images))
    if json_output:
        common.emit_json({"model": str(model_dir), "predictions": [p.__dict__ for p in predictions]})
        return
    for p in predictions:
        typer.echo(f"{p.image}\t{p.text}\t{p.score:.4f}")
