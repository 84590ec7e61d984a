"""`ocrbatch predict` (read crops, or whole frames with a detector) and `ocrbatch label` (pre-label photos)."""

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from ocrbatch.cli import common
from ocrbatch.cli.options import JsonOpt, acts_on_target
from ocrbatch.errors import BadInput
from ocrbatch.wiring import Target

ModelOpt = Annotated[
    str, typer.Option("--model", help="The recognizer: a model folder, or a job id / `latest` (the newest recognition job) for that job's model.")
]
DetModelOpt = Annotated[
    Optional[str],
    typer.Option("--det-model", help="A detector: a model folder, or a job id / `latest` (the newest detection job): read every text box of whole frames."),
]


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)
    app.command("label")(label)


def _model_folder(target: Target, ref: str, task: str) -> Path:
    """A model folder as given, else the model of a job (downloaded once into the home's models);
    `latest` is the newest succeeded job that trained ``task``."""
    folder = Path(ref)
    if folder.is_dir():
        return folder
    from ocrbatch.jobs.runs import model_of_job

    wiring = common.wire(target)
    return model_of_job(wiring.backend, ref, wiring.models_dir, log=common.info, task=task)


@acts_on_target()
def predict(
    target: Target,
    images: Annotated[List[Path], typer.Argument(help="Images to read.", show_default=False)],
    model: ModelOpt,
    det_model: DetModelOpt = None,
    draw: Annotated[
        Optional[Path], typer.Option("--draw", help="With --det-model: write each image with its boxes and text drawn here.")
    ] = None,
    json_output: JsonOpt = False,
) -> None:
    """Read text from images with trained models (stock paddleocr inference).

    With --model alone each image is one text line (a crop). With --det-model too, each image is a
    whole frame: the detector finds every text box and the recognizer reads it.
    """
    common.quiet_paddle_startup()
    if draw is not None and det_model is None:
        raise BadInput("--draw needs --det-model (it draws the boxes found)")
    rec_dir = _model_folder(target, model, "rec")
    if det_model is None:
        from ocrbatch.predict import predict_images

        predictions = predict_images(rec_dir, list(images))
        if json_output:
            common.emit_json({"model": str(rec_dir), "predictions": [p.__dict__ for p in predictions]})
            return
        for p in predictions:
            typer.echo(f"{p.image}\t{p.text}\t{p.score:.4f}")
        return

    from ocrbatch.predict.frames import FrameReader

    det_dir = _model_folder(target, det_model, "det")
    reader = FrameReader(det_dir, rec_dir)
    readings = reader.read(list(images))
    drawn = []
    if draw is not None:
        from ocrbatch.predict.drawing import draw_readings

        drawn = [str(path) for path in draw_readings(readings, draw)]
    if json_output:
        common.emit_json({"model": str(rec_dir), "det_model": str(det_dir), "frames": [r.to_json() for r in readings],
                          "drawn": drawn})
        return
    for reading in readings:
        typer.echo(f"{reading.image}: {len(reading.boxes)} text box(es)")
        for box in reading.boxes:
            corners = " ".join(f"{x},{y}" for x, y in box.points)
            typer.echo(f"  {box.text}\t{box.score:.4f}\t{corners}")
    if drawn:
        common.info(f"drew {len(drawn)} image(s) into {draw}")


@acts_on_target()
def label(
    target: Target,
    images_dir: Annotated[Path, typer.Argument(help="A folder of photos (or crops, without --det-model).", show_default=False)],
    model: ModelOpt,
    det_model: DetModelOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the folder's existing PPOCRLabel files.")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Pre-label photos for PPOCRLabel: the model's boxes and text, least confident first in review.txt.

    Open the folder in PPOCRLabel, correct and check each image, export the recognition results,
    then upload the folder as your next dataset version.
    """
    from ocrbatch.predict.prelabel import label_folder

    common.quiet_paddle_startup()
    rec_dir = _model_folder(target, model, "rec")
    det_dir = _model_folder(target, det_model, "det") if det_model else None
    models = {"rec": {"ref": model, "path": str(rec_dir)}}
    if det_dir is not None:
        models["det"] = {"ref": det_model, "path": str(det_dir)}
    summary = label_folder(images_dir, rec_dir, det_dir, force=force, models=models)
    if json_output:
        common.emit_json(summary)
        return
    typer.echo(f"labelled {summary['images']} image(s) in {images_dir}: {summary['boxes']} text box(es), "
               f"{summary['below_half_confidence']} below 50% confidence, "
               f"{summary['images_without_text']} image(s) with no text found")
    typer.echo(f"review first: {Path(images_dir) / 'review.txt'} (least confident first)")
    typer.echo("then: open the folder in PPOCRLabel, correct and check each image, export the recognition "
               f"results, and `ocrbatch upload {images_dir}`")
