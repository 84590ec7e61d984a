"""Read images with a trained model through the stock ``paddleocr`` package, as a user would.

The model folder is an ocrbatch artifact (or any PaddleOCR inference folder): ``inference.yml`` names
the stock model whose pre- and post-processing apply, and ``TextRecognition`` loads it offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from ocrbatch.errors import BadInput


@dataclass(frozen=True)
class Prediction:
    image: str
    text: str
    score: float


def model_name_of(model_dir: Path) -> str:
    config = Path(model_dir) / "inference.yml"
    if not config.is_file():
        raise BadInput(f"{model_dir} is not a model folder (no inference.yml)")
    try:
        name = (yaml.safe_load(config.read_text()) or {}).get("Global", {}).get("model_name")
    except yaml.YAMLError as err:
        raise BadInput(f"{config} is not valid YAML: {err}") from None
    if not name:
        raise BadInput(f"{config} has no Global.model_name")
    return name


def load_recognizer(model_dir: Path):
    # The stock package checks model sources online unless told not to; the model is local.
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from paddleocr import TextRecognition

    return TextRecognition(model_name=model_name_of(model_dir), model_dir=str(model_dir), device="cpu")


def predict_images(model_dir: Path, images: list[Path], *, batch_size: int = 32) -> list[Prediction]:
    missing = [str(path) for path in images if not Path(path).is_file()]
    if missing:
        raise BadInput(f"no such image: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    recognizer = load_recognizer(model_dir)
    results = recognizer.predict([str(path) for path in images], batch_size=batch_size)
    return [
        Prediction(image=str(path), text=str(result["rec_text"]), score=float(result["rec_score"]))
        for path, result in zip(images, results)
    ]
