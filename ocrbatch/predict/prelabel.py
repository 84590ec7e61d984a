"""Pre-labelling (``ocrbatch label``): a model reads a folder of photos and writes PPOCRLabel's files,
so a person only corrects what the model got wrong, then uploads the folder as the next dataset.

Written into the images' folder, as PPOCRLabel keeps them (PPOCRLabel opens the folder and finds them):

    Label.txt     ``<folder>/<image><TAB>[{"transcription", "points", "difficult"}]`` per image with boxes
    Cache.cach    the same lines: PPOCRLabel's store of automatic labels not yet checked
    fileState.txt empty: PPOCRLabel lists there the images a person has checked, and none has been
    rec_gt.txt    ``crop_img/<image stem>_crop_<i>.jpg<TAB>text``, and the crops in ``crop_img/``
                  (the files' formats are ``ocrbatch.datasets.ppocrlabel``'s, the crops ``crops``')
    review.txt    every box, least confident first: ``score<TAB>image<TAB>box<TAB>text``
    prelabel.json the models that wrote the labels and when (the next dataset version's lineage)

With a detector each box is one it found; without one, each image is taken to be one text line
(a crop) and its box is the whole image.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ocrbatch.datasets import ppocrlabel
from ocrbatch.datasets.crops import crop_box
from ocrbatch.errors import BadInput
from ocrbatch.predict.frames import FrameReader, FrameReading, TextBox
from ocrbatch.predict.models import model_name_of, require_task
from ocrbatch.predict.recognize import predict_images

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
REVIEW_FILE = "review.txt"
# Files a person may have corrected since: never replaced without --force.
LABEL_FILES = (ppocrlabel.LABEL_FILE, ppocrlabel.CACHE_FILE, ppocrlabel.FILE_STATE, ppocrlabel.REC_GT)


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
    existing = [name for name in LABEL_FILES if (folder / name).is_file() and (folder / name).stat().st_size]
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
    (folder / ppocrlabel.PRELABEL_RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return {"folder": str(folder), **record}


def _whole_image_reading(path: Path, text: str, score: float) -> FrameReading:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            w, h = image.size
    except (OSError, UnidentifiedImageError):
        raise BadInput(f"cannot read image {path}") from None
    return FrameReading(str(path), [TextBox([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], text, score)])


def write_ppocrlabel_folder(folder: Path, readings: list[FrameReading]) -> dict:
    """PPOCRLabel's files for ``readings`` of images in ``folder``; returns counts."""
    from PIL import Image

    labelled, crops, review = [], [], []
    (folder / ppocrlabel.CROP_DIR).mkdir(exist_ok=True)
    for reading in readings:
        image = Path(reading.image).name
        key = ppocrlabel.label_key(folder, image)
        if not reading.boxes:
            review.append((0.0, key, "-", "(no text found)"))
            continue
        labelled.append((image, [ppocrlabel.Box(b.text, tuple(map(tuple, b.points))) for b in reading.boxes]))
        with Image.open(reading.image) as picture:
            picture = picture.convert("RGB")
            for index, box in enumerate(reading.boxes):
                name = ppocrlabel.crop_name(image, index)
                if not box.text.strip():
                    # a box found but read as nothing: left for the user to type (an empty line in
                    # rec_gt.txt would be a crop labelled with nothing, which no dataset accepts)
                    review.append((0.0, key, str(index), "(read nothing)"))
                    continue
                crop_box(picture, box.points).save(folder / name, quality=95)
                crops.append((name, box.text))
                review.append((box.score, key, str(index), box.text))
    review.sort(key=lambda row: row[0])
    ppocrlabel.write_label_file(folder, labelled)
    ppocrlabel.write_label_file(folder, labelled, name=ppocrlabel.CACHE_FILE)
    ppocrlabel.write_file_state(folder, [])
    ppocrlabel.write_rec_gt(folder, crops)
    (folder / REVIEW_FILE).write_text(
        "".join(f"{score:.4f}\t{key}\t{box}\t{text}\n" for score, key, box, text in review), encoding="utf-8")
    return {"images": len(readings), "boxes": len(crops),
            "images_without_text": sum(1 for r in readings if not r.boxes),
            "below_half_confidence": sum(1 for row in review if row[0] < 0.5)}
