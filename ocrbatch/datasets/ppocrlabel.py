"""PPOCRLabel's files, read and written: the folder a user labelled in PaddleOCR's labelling tool.

PPOCRLabel keeps its work beside the images of the folder it opened ("Open Dir"):

* ``Label.txt``: one line per image the user checked, ``<folder name>/<image>\\t<JSON list of boxes>``.
  A box is ``{"transcription": str, "points": [[x, y], ...], "difficult": bool}`` (4 points, or more
  for a polygon; ``"key_cls"`` too in its KIE mode). Paths start with the opened folder's own name:
  they are relative to its parent, where PaddleOCR's ``data_dir`` points.
* ``fileState.txt``: ``<image path>\\t1`` per image the user checked ("√"); absolute paths in older
  releases, ``<folder name>/<image>`` in newer ones. An image it does not list, or lists with ``0``,
  was not checked: its boxes are the model's proposals, not the user's.
* ``rec_gt.txt`` + ``crop_img/`` ("Export Recognition Result"): ``crop_img/<image stem>_crop_<n>.jpg
  \\t<text>``, one perspective crop per box ``n`` of the image's ``Label.txt`` line.
* ``Cache.cach``: the model's unreviewed proposals, in ``Label.txt``'s format; PPOCRLabel shows them for
  images Label.txt does not have. Never training data.

This module only reads and writes those files (it raises :class:`LabelFileError`, a ``BadInput``
naming ``file:line``, on the first broken line); turning a folder into a dataset is ``ppocrlabel_import``'s.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ocrbatch.errors import BadInput

LABEL_FILE = "Label.txt"
FILE_STATE = "fileState.txt"
REC_GT = "rec_gt.txt"
CROP_DIR = "crop_img"
CACHE_FILE = "Cache.cach"
# Not PPOCRLabel's: ``ocrbatch label`` records there which models pre-labelled the folder, and a
# version uploaded from the folder keeps it in its manifest (the dataset's lineage).
PRELABEL_RECORD = "prelabel.json"
CHECKED = 1

_CROP_NAME = re.compile(r"^(?P<stem>.+)_crop_(?P<box>\d+)$")


class LabelFileError(BadInput):
    """A broken line of one of PPOCRLabel's files (exit 2): which file, which line, what is wrong."""

    def __init__(self, file: str, line: int | None, reason: str):
        self.file, self.line, self.reason = file, line, reason
        super().__init__(f"{file}:{line}: {reason}" if line else f"{file}: {reason}")


@dataclass(frozen=True)
class Box:
    """One text region: its text and polygon (image pixels, clockwise from top-left)."""

    transcription: str
    points: tuple[tuple[float, float], ...]
    difficult: bool = False
    key_cls: str | None = None  # PPOCRLabel's KIE mode only

    def to_json(self) -> dict:
        box = {
            "transcription": self.transcription,
            "points": [[_number(x), _number(y)] for x, y in self.points],
            "difficult": self.difficult,
        }
        if self.key_cls is not None:
            box["key_cls"] = self.key_cls
        return box


@dataclass(frozen=True)
class LabelledImage:
    """One ``Label.txt`` line: an image (relative to the labelled folder) and its boxes."""

    image: str
    boxes: tuple[Box, ...]
    line: int = 0


@dataclass(frozen=True)
class CropLabel:
    """One ``rec_gt.txt`` line: a crop (relative to the labelled folder) and its text."""

    crop: str
    text: str
    line: int = 0


def is_ppocrlabel_folder(folder: Path) -> bool:
    """Whether ``folder`` holds PPOCRLabel's label files (``Label.txt`` or ``rec_gt.txt``)."""
    return (Path(folder) / LABEL_FILE).is_file() or (Path(folder) / REC_GT).is_file()


# --- paths -----------------------------------------------------------------------------------------


def label_key(folder: Path, image: str) -> str:
    """How PPOCRLabel names ``image`` (relative to ``folder``) in its files: ``<folder name>/<image>``."""
    return f"{Path(folder).resolve().name}/{image}"


def image_of_key(folder: Path, key: str) -> str:
    """The image a ``Label.txt`` / ``fileState.txt`` path names, relative to ``folder``.

    PPOCRLabel writes ``<folder name>/<image>`` (or an absolute path, with ``\\`` on Windows); the
    folder may have been renamed or moved since, so the first component is dropped whatever it is,
    unless the path as written is an image of the folder (a subfolder's image in newer releases)."""
    parts = [part for part in re.split(r"[\\/]+", key.strip()) if part]
    if len(parts) < 2:
        return "/".join(parts)
    last_two = "/".join(parts[-2:])
    if parts[-2] == _folder_name(str(folder)) or not (Path(folder) / last_two).is_file():
        return parts[-1]
    return last_two


@functools.lru_cache(maxsize=64)
def _folder_name(folder: str) -> str:
    return Path(folder).resolve().name


def source_of_crop(crop: str) -> tuple[str, int] | None:
    """``(image stem, box number)`` of a PPOCRLabel crop name (``crop_img/<stem>_crop_<n>.jpg``)."""
    match = _CROP_NAME.match(posixpath.splitext(posixpath.basename(crop))[0])
    return (match["stem"], int(match["box"])) if match else None


# --- reading ---------------------------------------------------------------------------------------


def split_line(text: str) -> tuple[str, str] | None:
    """``(path, rest)`` of a ``path<TAB>rest`` line, or None without a tab."""
    path, sep, rest = text.partition("\t")
    return (path, rest) if sep else None


def parse_boxes(label: str) -> list[Box]:
    """The boxes of a ``Label.txt`` label (ValueError says what is wrong)."""
    try:
        raw = json.loads(label)
    except ValueError as err:
        raise ValueError(f"boxes are not JSON: {err}") from None
    if not isinstance(raw, list):
        raise ValueError("boxes must be a JSON list")
    boxes = []
    for number, box in enumerate(raw, 1):
        if not isinstance(box, dict) or not isinstance(box.get("transcription"), str):
            raise ValueError(f"box {number}: expected {{\"transcription\": \"...\", \"points\": [[x, y], ...]}}")
        points = box.get("points")
        if not (
            isinstance(points, list)
            and len(points) >= 4
            and all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
                for p in points
            )
        ):
            raise ValueError(f"box {number}: points must be at least 4 [x, y] number pairs")
        key_cls = box.get("key_cls")
        boxes.append(
            Box(box["transcription"], tuple((p[0], p[1]) for p in points), bool(box.get("difficult", False)),
                None if key_cls is None else str(key_cls))
        )
    return boxes


def _lines(path: Path) -> Iterable[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        raise LabelFileError(path.name, None, "not UTF-8 text") from None
    return [(number, line.rstrip("\r")) for number, line in enumerate(text.split("\n"), 1) if line.strip()]


def read_label_file(folder: Path, name: str = LABEL_FILE) -> list[LabelledImage]:
    """Every line of ``Label.txt`` (or ``Cache.cach``), image paths relative to ``folder``."""
    images = []
    for number, text in _lines(Path(folder) / name):
        parts = split_line(text)
        if parts is None:
            raise LabelFileError(name, number, "no tab between image path and boxes")
        try:
            boxes = parse_boxes(parts[1])
        except ValueError as err:
            raise LabelFileError(name, number, str(err)) from None
        images.append(LabelledImage(image_of_key(folder, parts[0]), tuple(boxes), number))
    return images


def read_rec_gt(folder: Path) -> list[CropLabel]:
    """Every line of ``rec_gt.txt``: crop paths relative to ``folder``."""
    crops = []
    for number, text in _lines(Path(folder) / REC_GT):
        parts = split_line(text)
        if parts is None:
            raise LabelFileError(REC_GT, number, "no tab between crop path and text")
        crops.append(CropLabel(parts[0].replace("\\", "/"), parts[1], number))
    return crops


def read_file_state(folder: Path) -> dict[str, bool] | None:
    """image (relative to ``folder``) -> checked, from ``fileState.txt``; None without that file."""
    path = Path(folder) / FILE_STATE
    if not path.is_file():
        return None
    states: dict[str, bool] = {}
    for number, text in _lines(path):
        parts = split_line(text)
        if parts is None:
            raise LabelFileError(FILE_STATE, number, "no tab between image path and state")
        states[image_of_key(folder, parts[0])] = parts[1].strip() != "0"
    return states


def read_prelabel_record(folder: Path) -> dict | None:
    """What ``ocrbatch label`` recorded about the models that pre-labelled ``folder``, if it did."""
    path = Path(folder) / PRELABEL_RECORD
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise BadInput(f"{PRELABEL_RECORD}: not JSON ({err})") from None
    if not isinstance(record, dict):
        raise BadInput(f"{PRELABEL_RECORD}: expected a JSON object")
    return {key: record.get(key) for key in ("written_by", "written_at", "recognizer", "detector")}


# --- writing ---------------------------------------------------------------------------------------


def write_label_file(folder: Path, images: Iterable[tuple[str, Sequence[Box]]], name: str = LABEL_FILE) -> Path:
    """Write ``Label.txt`` (or ``Cache.cach``: proposals PPOCRLabel shows but does not count as
    checked) for ``(image relative to folder, boxes)`` pairs, as PPOCRLabel does."""
    lines = [
        f"{label_key(folder, image)}\t{json.dumps([box.to_json() for box in boxes], ensure_ascii=False)}\n"
        for image, boxes in images
    ]
    return _write(Path(folder) / name, lines)


def write_file_state(folder: Path, checked: Mapping[str, bool] | Iterable[str]) -> Path:
    """Write ``fileState.txt``: the images (relative to ``folder``) the user checked. A mapping's
    unchecked images are left out, as PPOCRLabel does."""
    items = checked.items() if isinstance(checked, Mapping) else ((image, True) for image in checked)
    return _write(Path(folder) / FILE_STATE, [f"{label_key(folder, image)}\t{CHECKED}\n" for image, ok in items if ok])


def write_rec_gt(folder: Path, crops: Iterable[tuple[str, str]]) -> Path:
    """Write ``rec_gt.txt`` for ``(crop path relative to folder, text)`` pairs."""
    return _write(Path(folder) / REC_GT, [f"{crop}\t{text}\n" for crop, text in crops])


def crop_name(image: str, box: int, suffix: str = ".jpg") -> str:
    """PPOCRLabel's name for box ``box`` (0-based) of ``image``: ``crop_img/<stem>_crop_<n>.jpg``."""
    stem = posixpath.splitext(posixpath.basename(image))[0]
    return f"{CROP_DIR}/{stem}_crop_{box}{suffix}"


def _write(path: Path, lines: list[str]) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(lines)
    os.replace(tmp, path)
    return path


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
