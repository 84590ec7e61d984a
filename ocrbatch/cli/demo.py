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
    frames: Annotated[
        bool,
        typer.Option("--frames", help="Then the loop on whole frames: train a detector, read display photos, pre-label them."),
    ] = False,
    det_seconds: Annotated[
        int, typer.Option("--det-seconds", help="With --frames: the detector's training budget, wall clock.", min=10)
    ] = 300,
    home: HomeOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Train a pinball score reader on this machine (no AWS, no Docker), then read some scores with it.

    It fine-tunes the reader shipped in the package (init_from=pinball-scores) on freshly generated crops.
    """
    from ocrbatch.demo import frames_how_to, run_demo, run_frames_loop

    common.quiet_paddle_startup()
    wiring = common.wire(common.make_target(True, home=home))
    work_dir = wiring.target.home_dir / "demo"
    report = run_demo(
        output_dir=output_dir, count=count, train_seconds=train_seconds, seed=seed, force=force,
        backend=wiring.backend, work_dir=work_dir, log=common.info,
    )
    if frames:
        report["frames"] = run_frames_loop(
            rec_model_dir=Path(report["model_dir"]), output_dir=output_dir, train_seconds=det_seconds, seed=seed,
            force=force, backend=wiring.backend, work_dir=work_dir, log=common.info,
        )
    else:
        report["frames_how_to"] = frames_how_to(output_dir)
    if json_output:
        common.emit_json(report)
        return
    start = f"starting from the shipped base {report['init_from']}" if report.get("init_from") else "from scratch"
    typer.echo(f"held-out accuracy: {report['accuracy']:.1%} on {report['val_images']} images "
               f"({report['train_seconds']:.0f} s of training, {start})")
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
    if not frames:
        typer.echo("whole frames (a detector finds the display, the reader reads it; `--frames` runs this):")
        for line in report["frames_how_to"]:
            typer.echo(f"  {line}")
        return
    loop = report["frames"]
    typer.echo(f"detector: {loop['det_model_dir']} (held-out boxes: precision {loop['det_precision']:.1%}, "
               f"recall {loop['det_recall']:.1%}, {loop['det_train_seconds']:.0f} s of training)")
    typer.echo("frames of held-out renderers, read whole (box text (score)):")
    for frame in loop["frames"]:
        read = ", ".join(f"{box['text']} ({box['score']:.2f})" for box in frame["boxes"]) or "no text found"
        typer.echo(f"  {Path(frame['image']).name}: {read}")
    typer.echo(f"drawn: {Path(loop['drawn'][0]).parent}" if loop["drawn"] else "drawn: none")
    labelled = loop["labelled"]
    typer.echo(f"pre-labelled for PPOCRLabel: {labelled['folder']} ({labelled['boxes']} boxes, "
               f"{labelled['below_half_confidence']} below 50% confidence; review.txt lists them least sure first)")
    typer.echo(f"  correct them in PPOCRLabel, then `ocrbatch upload {labelled['folder']}` as your next dataset")
    typer.echo("read frames with the stock paddleocr package:")
    for line in loop["python"]:
        typer.echo(f"  {line}")
