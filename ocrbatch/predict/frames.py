"""Read whole frames: a detector finds every text box, a recognizer reads each, through stock ``paddleocr``.

The pipeline is ``paddleocr.PaddleOCR`` given both model folders, without the document orientation,
unwarping and text-line orientation models (a frame is a photo of a display, and those models would
be downloaded). The detector's own resize and box settings (its ``inference.yml``) are passed to the
pipeline, which would otherwise apply its defaults for stock PP-OCR detectors.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ocrbatch.paddle_notices import quiet_paddlex_logging
from ocrbatch.predict.models import detector_settings, model_name_of, require_task
from ocrbatch.predict.recognize import require_images


@dataclass(frozen=True)
class TextBox:
    points: list[list[int]]  # the box's corners in image pixels, clockwise from top-left
    text: str
    score: float  # the recognizer's confidence in the text, 0..1


@dataclass(frozen=True)
class FrameReading:
    image: str
    boxes: list[TextBox]

    def to_json(self) -> dict:
        return asdict(self)


class FrameReader:
    """A loaded detector + recognizer pair; ``read`` takes image paths."""

    def __init__(self, det_dir: Path, rec_dir: Path, *, device: str = "cpu"):
        require_task(det_dir, "det", "--det-model")
        require_task(rec_dir, "rec", "--model")
        self.det_settings = detector_settings(det_dir)
        # The stock package checks model sources online unless told not to; the models are local.
        os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
        from paddleocr import PaddleOCR

        quiet_paddlex_logging()
        self.pipeline = PaddleOCR(
            text_detection_model_name=model_name_of(det_dir), text_detection_model_dir=str(det_dir),
            text_recognition_model_name=model_name_of(rec_dir), text_recognition_model_dir=str(rec_dir),
            use_doc_orientation_classify=False, use_doc_unwarping=False, use_textline_orientation=False,
            device=device,
        )
        self.python = [
            "from paddleocr import PaddleOCR",
            f"ocr = PaddleOCR(text_detection_model_name={model_name_of(det_dir)!r}, "
            f"text_detection_model_dir={str(det_dir)!r}, text_recognition_model_name={model_name_of(rec_dir)!r}, "
            f"text_recognition_model_dir={str(rec_dir)!r}, use_doc_orientation_classify=False, "
            "use_doc_unwarping=False, use_textline_orientation=False)",
            "result = ocr.predict(IMAGE, " + ", ".join(f"{k}={v!r}" for k, v in self.det_settings.items()) + ")",
        ]

    def read(self, images: list[Path]) -> list[FrameReading]:
        require_images(images)
        readings = []
        for path in images:  # one at a time: frames differ in size, and the pipeline batches nothing across them
            (result,) = self.pipeline.predict(str(path), **self.det_settings)
            res = result.json["res"]
            boxes = [
                TextBox(points=[[int(x), int(y)] for x, y in poly], text=str(text), score=round(float(score), 4))
                for poly, text, score in zip(res["rec_polys"], res["rec_texts"], res["rec_scores"])
            ]
            readings.append(FrameReading(image=str(path), boxes=boxes))
        return readings


def read_frames(det_dir: Path, rec_dir: Path, images: list[Path]) -> list[FrameReading]:
    return FrameReader(det_dir, rec_dir).read(images)
