"""`ocrbatch synth`: write a synthetic pinball display dataset (a thin shell over ``ocrbatch.synth``)."""

from pathlib import Path
from typing import Annotated, Optional

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import JsonOpt
from ocrbatch.cli.progress import ProgressBar


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)


def synth(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write (created; a previous synth output is replaced).")],
    count: Annotated[int, typer.Option("--count", "-n", help="Number of images.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 0,
    task: Annotated[str, typer.Option("--task", help="rec: text crops + labels; det: whole frames + text boxes.")] = "rec",
    styles: Annotated[
        Optional[str],
        typer.Option("--styles", help="Comma list of seg7,seg14,dmd,lcd, or a preset: all, scores (digits and separators only)."),
    ] = None,
    val_fraction: Annotated[float, typer.Option("--val-fraction", help="Share of images in val.txt.")] = 0.1,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Processes (default: all cores).")] = None,
    height: Annotated[int, typer.Option("--height", help="Height of rec crops in pixels.")] = 48,
    renderers: Annotated[
        str,
        typer.Option("--renderers", help="Typefaces, shapes and camera effects: train, heldout (never in train), or all."),
    ] = "all",
    force: Annotated[bool, typer.Option("--force", help="Write into a non-empty folder that synth did not make.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Generate labelled pinball display images (7/14-segment, dot-matrix, LCD) in PaddleOCR's layout.

    Labels are what the display lights, separators included: a score shown as 1,234,560 is
    labelled "1,234,560". Fonts come from installed packages, never the network; the same seed
    writes the same bytes.
    """
    from ocrbatch.synth import generate_dataset  # needs OpenCV; keep it out of every other command

    with ProgressBar(log_every=0.25) as bar:
        summary = generate_dataset(
            out_dir,
            count=count,
            seed=seed,
            task=task,
            val_fraction=val_fraction,
            styles=styles.split(",") if styles is not None else None,
            workers=workers,
            height=height,
            renderers=renderers,
            force=force,
            progress=bar.stage("generating"),
        )
    if json_output:
        common.emit_json(summary)
        return
    splits = summary["splits"]
    typer.echo(
        f"wrote {summary['count']} {summary['task']} images to {summary['out_dir']} "
        f"(train {splits['train']}, val {splits['val']}) in {summary['seconds']:.1f} s, "
        f"{summary['images_per_second']:.0f} images/s on {summary['workers']} process(es)"
    )
    for style, counts in summary["per_style"].items():
        typer.echo(f"  {style:<6} train {counts['train']:>7}  val {counts['val']:>6}")
    typer.echo(f"  characters: {summary['characters']!r}")
