"""Label lines: which files of a folder hold the splits, and each ``image<TAB>label`` line checked on
its own (the folder convention is in ``ocrbatch.datasets``; what needs the images is ``validation``'s).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

# Label file names accepted per split, in order of preference within each family. The first family
# that has a file wins; two files of the same family are ambiguous. "test" files serve as the
# validation split only when no "val" file exists (PaddleOCR's recipes often evaluate on rec_gt_test).
LABEL_FAMILIES = {
    "train": (("train.txt", "rec_gt_train.txt", "det_gt_train.txt", "train_list.txt", "train_label.txt"),),
    "val": (
        ("val.txt", "rec_gt_val.txt", "det_gt_val.txt", "val_list.txt", "val_label.txt"),
        ("test.txt", "rec_gt_test.txt", "det_gt_test.txt", "test_list.txt", "test_label.txt"),
    ),
}
# The names label files get in a fetched dataset; an image must not take them.
FETCHED_LABEL_NAMES = {"train": "train.txt", "val": "val.txt"}

DET_IGNORED_TRANSCRIPTION = "###"  # PaddleOCR's marker for a box to ignore
# A recognition label is one line of text (PaddleOCR's max_text_length is 25 by default); anything
# far longer is a broken file (a lost newline, binary data), not a label.
MAX_REC_LABEL_CHARS = 1000
MAX_LINE_CHARS = 1_000_000

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Problem:
    file: str  # label file (or image) relative to the dataset folder
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class Sample(NamedTuple):  # named tuples: there is one per line and image, and they are cheap
    """One good label line: normalised image path and the label text (rec) or JSON (det)."""

    image: str
    label: str
    line: int


class Row(NamedTuple):
    """A line that parsed: its image still has to be looked at."""

    line: int
    image: str
    label: str
    texts: list[str]
    points: list


@dataclass
class LabelSource:
    """The numbered lines of one split, and the file name problems are reported under."""

    name: str
    lines: list[tuple[int, str | None]] = field(default_factory=list)  # text None: not UTF-8


def find_label_files(folder: Path) -> tuple[dict[str, Path], list[Problem]]:
    """split -> label file; a missing val file is no problem (the split is then held out)."""
    found: dict[str, Path] = {}
    problems: list[Problem] = []
    present = {entry.name for entry in os.scandir(folder) if entry.is_file()}
    for split, families in LABEL_FAMILIES.items():
        for family in families:
            names = [name for name in family if name in present]
            if len(names) > 1:
                problems.append(Problem(names[1], None, f"ambiguous {split} split: both {' and '.join(names)} exist; keep one"))
            if names:
                found[split] = folder / names[0]
                break
    return found, problems


def read_label_files(label_files: dict[str, Path], errors: list[Problem], warnings: list[Problem]) -> dict[str, LabelSource]:
    sources = {}
    for split, path in label_files.items():
        try:
            data = path.read_bytes()
        except OSError as err:
            errors.append(Problem(path.name, None, f"cannot read: {err.strerror}"))
            continue
        if not data.strip():
            errors.append(Problem(path.name, None, "label file is empty"))
            continue
        sources[split] = LabelSource(path.name, decode_lines(data, path.name, warnings))
    return sources


def guess_task(label_files: dict[str, Path], first_labels: list[str]) -> str:
    names = " ".join(path.name for path in label_files.values())
    if "det_gt" in names:
        return "det"
    if "rec_gt" in names:
        return "rec"
    for label in first_labels:
        if label.startswith("["):
            try:
                boxes = json.loads(label)
            except ValueError:
                continue
            if isinstance(boxes, list) and boxes and all(isinstance(b, dict) and "points" in b for b in boxes):
                return "det"
        return "rec"
    return "rec"


def decode_lines(data: bytes, name: str, problems: list[Problem]) -> list[tuple[int, str | None]]:
    """Split a label file into (line number, text); text is None for a line that is not UTF-8."""
    if data.startswith(_UTF8_BOM):
        problems.append(Problem(name, 1, "UTF-8 byte order mark removed (it would become part of the first path)"))
        data = data[len(_UTF8_BOM) :]
    if b"\r\n" in data:
        problems.append(Problem(name, None, "Windows (CRLF) line endings converted to LF"))
    try:
        raw_lines = data.decode("utf-8").split("\n")
        texts: list[str | None] = [line[:-1] if line.endswith("\r") else line for line in raw_lines]
    except UnicodeDecodeError:
        texts = []
        for raw in data.split(b"\n"):
            try:
                texts.append(raw.decode("utf-8").removesuffix("\r"))
            except UnicodeDecodeError:
                texts.append(None)
    return list(enumerate(texts, 1))


def check_path(path: str) -> tuple[str | None, str | None]:
    """Return (normalised path, None) or (None, why it is unusable)."""
    if not path:
        return None, "empty image path"
    if path.startswith(("/", "\\")) or _WINDOWS_ABSOLUTE.match(path):
        return None, f"absolute image path {path!r}: paths must be relative to the dataset folder"
    norm = posixpath.normpath(path)
    if norm == ".." or norm.startswith("../"):
        return None, f"image path {path!r} escapes the dataset folder"
    if norm == ".":
        return None, f"image path {path!r} is not a file"
    if norm in FETCHED_LABEL_NAMES.values():
        return None, f"image path {path!r} collides with the label file name {norm}"
    return norm, None


def check_det_label(label: str) -> tuple[str | None, list[str], list[list[float]]]:
    """Return (error, transcriptions, points of every box)."""
    try:
        boxes = json.loads(label)
    except ValueError as err:
        return f"detection label is not JSON: {err}", [], []
    if not isinstance(boxes, list):
        return "detection label must be a JSON list of boxes", [], []
    texts, points = [], []
    for number, box in enumerate(boxes, 1):
        if not isinstance(box, dict) or "points" not in box or "transcription" not in box:
            return f"box {number}: expected {{\"transcription\": ..., \"points\": [[x, y], ...]}}", [], []
        if not isinstance(box["transcription"], str):
            return f"box {number}: transcription must be a string", [], []
        pts = box["points"]
        if (
            not isinstance(pts, list)
            or len(pts) < 4
            or not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
                for p in pts
            )
        ):
            return f"box {number}: points must be at least 4 [x, y] number pairs", [], []
        texts.append(box["transcription"])
        points.extend(pts)
    return None, texts, points


def parse_lines(source: LabelSource, task: str, problems: list[Problem], warnings: list[Problem]) -> list[Row]:
    """The lines of ``source`` that parse; each one that does not is a problem at its line."""
    name = source.name
    rows = []
    for number, text in source.lines:
        if text is None:
            problems.append(Problem(name, number, "line is not UTF-8 text"))
            continue
        if not text.strip():
            continue  # blank lines (often trailing) carry nothing
        if len(text) > MAX_LINE_CHARS:
            problems.append(Problem(name, number, f"line is {len(text):,} characters long: not a label line"))
            continue
        path, sep, label = text.partition("\t")
        if not sep:
            problems.append(Problem(name, number, "no tab between image path and label"))
            continue
        image, why = check_path(path)
        if why:
            problems.append(Problem(name, number, why))
            continue
        if "\t" in label:
            problems.append(Problem(name, number, "label contains a tab (PaddleOCR would drop everything after it)"))
            continue
        if task == "det":
            why, texts, points = check_det_label(label)
        else:
            texts, points = [label], []
            why = "empty label" if not label else None
            if len(label) > MAX_REC_LABEL_CHARS:
                why = f"label is {len(label):,} characters long (over {MAX_REC_LABEL_CHARS:,}): not one line of text"
        if not why and any(_CONTROL.search(t) for t in texts):
            why = "control character in label"
        if why:
            problems.append(Problem(name, number, why))
            continue
        if task == "rec" and label != label.strip():
            warnings.append(Problem(name, number, f"label {label!r} starts or ends with whitespace"))
        rows.append(Row(number, image, label, texts, points))
    return rows
