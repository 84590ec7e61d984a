"""Pre-labelling (``ocrbatch label``): a model reads a folder of photos and writes PPOCRLabel's files,
so a person only corrects what the model got wrong, then uploads the folder as the next dataset.

Written into the images' folder, as PPOCRLabel keeps them (PPOCRLabel opens the folder and finds them):

    Label.txt     ``<folder>/<image><TAB>[{"transcription", "points", "difficult"}]`` per image with boxes
    Cache.cach    the same lines: PPOCRLabel's store of automatic labels not yet checked
    fileState.txt empty: PPOCRLabel lists there the images a person has checked, and none has been
    rec_gt.txt    ``crop_img/<image stem>_crop_<i>.jpg<TAB>text``, and the crops in ``crop_img/``
    review.txt    every box, least confident first: ``score<TAB>image<TAB>box<TAB>text``
    prelabel.json the models that wrote the labels and when (the next dataset version's lineage)

With a detector each box is one it found; without one, each image is taken to be one text line
(a crop) and its box is the whole image.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ocrbatch.errors import BadInput
from ocrbatch.predict.frames import FrameReader, FrameReading, TextBox
from ocrbatch.predict.models import model_name_of, require_task
from ocrbatch.predict.recognize import predict_images
from ocrbatch.synth.opencv import cv2

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
WRITTEN = ("Label.txt", "Cache.cach", "fileState.txt", "rec_gt.txt", "review.txt", "prelabel.json")
CROP_DIR = "crop_img"


def images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise BadInput(f"{folder} is not a folder of images")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise BadInput(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return images


def label_folder(folder: Path, rec_dir: Path, det_dir: Path | None = None, *, force: bool = False,
                 models: dict | None = None) -> dict:
    """Read every image of ``folder`` and write the files above into it; returns a summary.
    ``models`` describes the models for the record (what the user named: a job id, a folder)."""
    folder = Path(folder)
    images = images_in(folder)
    existing = [name for name in WRITTEN[:4] if (folder / name).is_file() and (folder / name).stat().st_size]
    if existing and not force:
        raise BadInput(f"{folder} already has {', '.join(existing)} (labels someone may have checked); "
                       "pass --force to replace them")
    require_task(rec_dir, "rec", "--model")
    if det_dir is not None:
        readings = FrameReader(det_dir, rec_dir).read(images)
    else:
        readings = [_whole_image_reading(path, p.text, p.score) for path, p in zip(images, predict_images(rec_dir, images))]
    summary = write_ppocrlabel_folder(folder, readings)
    record = {
        "written_by": "ocrbatch label",
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "recognizer": {"model_name": model_name_of(rec_dir), **(models or {}).get("rec", {"path": str(rec_dir)})},
        "detector": None if det_dir is None else {"model_name": model_name_of(det_dir),
                                                  **(models or {}).get("det", {"path": str(det_dir)})},
        **summary,
    }
    (folder / "prelabel.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return {"folder": str(folder), **record}


def _whole_image_reading(path: Path, text: str, score: float) -> FrameReading:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput(f"cannot read image {path}")
    h, w = image.shape[:2]
    return FrameReading(str(path), [TextBox([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], text, score)])


def write_ppocrlabel_folder(folder: Path, readings: list[FrameReading]) -> dict:
    """PPOCRLabel's files for ``readings`` of images in ``folder``; returns counts."""
    label_lines, rec_lines, review = [], [], []
    crops = folder / CROP_DIR
    crops.mkdir(exist_ok=True)
    for reading in readings:
        key = f"{folder.name}/{Path(reading.image).name}"  # PPOCRLabel's key: the folder's name / the file's
        if not reading.boxes:
            review.append((0.0, key, "-", "(no text found)"))
            continue
        label_lines.append(key + "\t" + json.dumps(
            [{"transcription": b.text, "points": b.points, "difficult": False} for b in reading.boxes],
            ensure_ascii=False))
        image = cv2.imread(reading.image, cv2.IMREAD_COLOR)
        for index, box in enumerate(reading.boxes):
            name = f"{Path(reading.image).stem}_crop_{index}.jpg"
            cv2.imwrite(str(crops / name), crop_quad(image, np.asarray(box.points, dtype=np.float32)))
            rec_lines.append(f"{CROP_DIR}/{name}\t{box.text}")
            review.append((box.score, key, str(index), box.text))
    review.sort(key=lambda row: row[0])
    _write_lines(folder / "Label.txt", label_lines)
    _write_lines(folder / "Cache.cach", label_lines)
    _write_lines(folder / "fileState.txt", [])
    _write_lines(folder / "rec_gt.txt", rec_lines)
    _write_lines(folder / "review.txt", [f"{score:.4f}\t{key}\t{box}\t{text}" for score, key, box, text in review])
    return {"images": len(readings), "boxes": len(rec_lines),
            "images_without_text": sum(1 for r in readings if not r.boxes),
            "below_half_confidence": sum(1 for row in review if row[0] < 0.5)}


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def crop_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The quad's content straightened into a rectangle (a tall result is turned to lie flat, as
    PPOCRLabel's crops are)."""
    width = int(max(np.linalg.norm(quad[0] - quad[1]), np.linalg.norm(quad[2] - quad[3]), 1))
    height = int(max(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2]), 1))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    crop = cv2.warpPerspective(image, cv2.getPerspectiveTransform(quad, target), (width, height),
                               flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.rot90(crop) if height >= 1.5 * width else crop
