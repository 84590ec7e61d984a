"""Read cropped text lines with a recognizer through the stock ``paddleocr`` package, as a user would.

The model folder is an ocrbatch artifact (or any PaddleOCR inference folder): ``inference.yml`` names
the stock model whose pre- and post-processing apply, and ``TextRecognition`` loads it offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ocrbatch.errors import BadInput
from ocrbatch.paddle_notices import quiet_paddlex_logging
from ocrbatch.predict.models import model_name_of


@dataclass(frozen=True)
class Prediction:
    image: str
    text: str
    score: float


def load_recognizer(model_dir: Path):
    # The stock package checks model sources online unless told not to; the model is local.
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    from paddleocr import TextRecognition

    quiet_paddlex_logging()
    return TextRecognition(model_name=model_name_of(model_dir), model_dir=str(model_dir), device="cpu")


def require_images(images: list[Path]) -> None:
    missing = [str(path) for path in images if not Path(path).is_file()]
    if missing:
        raise BadInput(f"no such image: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))


def predict_images(model_dir: Path, images: list[Path], *, batch_size: int = 32) -> list[Prediction]:
    require_images(images)
    recognizer = load_recognizer(model_dir)
    results = recognizer.predict([str(path) for path in images], batch_size=batch_size)
    return [
        Prediction(image=str(path), text=str(result["rec_text"]), score=float(result["rec_score"]))
        for path, result in zip(images, results)
    ]
