"""Validation of a dataset folder before anything moves (the folder convention is in ``__init__``).

Every problem is reported with its file and line; errors stop an upload, warnings do not. With
``skip_bad`` each line that has an error is dropped instead (and counted), so a mostly good dataset
can still go up. File-level errors (no train split, an empty label file) are never skippable.

Speed matters (hundreds of thousands of files): label lines are parsed in one pass, images are
checked by a small thread pool (reads and hashing release the GIL), and the facts learnt about an
image (sha256, decoded size) are memoised in :mod:`ocrbatch.datasets.file_cache`, so validating an
unchanged folder again costs one ``stat`` per image.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

from ocrbatch.datasets.file_cache import FileFacts
from ocrbatch.datasets.image_files import ImageFile, ImageInspector
from ocrbatch.errors import BadInput
from ocrbatch.tasks import TASKS


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

# OpenCV (what PaddleOCR decodes with) reads these; others may silently become skipped samples.
OPENCV_FORMATS = {"JPEG", "PNG", "BMP", "TIFF", "WEBP", "PPM", "JPEG2000"}
DET_IGNORED_TRANSCRIPTION = "###"  # PaddleOCR's marker for a box to ignore
# A recognition label is one line of text (PaddleOCR's max_text_length is 25 by default); anything
# far longer is a broken file (a lost newline, binary data), not a label.
MAX_REC_LABEL_CHARS = 1000
MAX_LINE_CHARS = 1_000_000

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")
_UTF8_BOM = b"\xef\xbb\xbf"

Progress = Callable[[str, int, int], None]  # (stage, done, total)


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


@dataclass
class ValidationReport:
    folder: Path
    task: str | None
    label_files: dict[str, Path] = field(default_factory=dict)  # split -> label file
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    characters: tuple[str, ...] = ()
    samples: dict[str, list[Sample]] = field(default_factory=dict)  # split -> good lines
    images: dict[str, ImageFile] = field(default_factory=dict)  # path -> facts, good images only
    skipped: int = 0  # bad lines dropped because of skip_bad

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        counts = self.counts
        body = (
            f"{counts.get('train', 0):,} train + {counts.get('val', 0):,} val lines, "
            f"{counts.get('images', 0):,} images, {len(self.characters)} characters"
        )
        tail = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        if self.skipped:
            tail += f", {self.skipped} bad line(s) skipped"
        return f"{self.task or 'unknown'} dataset: {body}; {tail}"

    def to_json(self) -> dict:
        return {
            "folder": str(self.folder),
            "ok": self.ok,
            "task": self.task,
            "label_files": {split: str(path) for split, path in self.label_files.items()},
            "counts": dict(self.counts),
            "skipped": self.skipped,
            "characters": "".join(self.characters),
            "errors": [str(p) for p in self.errors],
            "warnings": [str(p) for p in self.warnings],
        }


class InvalidDataset(BadInput):
    """A dataset with errors: carries the report so the CLI can list the first problems."""

    def __init__(self, report: ValidationReport, *, uploading: bool = True):
        self.report = report
        first = report.errors[0] if report.errors else "unknown problem"
        outcome = "nothing was uploaded; " if uploading else ""
        super().__init__(
            f"{report.folder}: {len(report.errors)} error(s), first: {first}; {outcome}"
            "fix them, or pass --skip-bad to drop bad lines"
        )


# --- label files -----------------------------------------------------------------------------


def find_label_files(folder: Path) -> tuple[dict[str, Path], list[Problem]]:
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
    if "train" not in found:
        problems.append(
            Problem(".", None, f"no train label file: expected one of {', '.join(LABEL_FAMILIES['train'][0])}")
        )
    if "val" not in found:
        problems.append(
            Problem(
                ".",
                None,
                "no val label file (val.txt): PaddleOCR measures accuracy and picks the best model on a "
                "held-out split; move a few percent of the train lines into val.txt",
            )
        )
    return found, problems


def _guess_task(label_files: dict[str, Path], first_labels: list[str]) -> str:
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


def _decode_lines(data: bytes, name: str, problems: list[Problem]) -> list[tuple[int, str | None]]:
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


def _check_path(path: str) -> tuple[str | None, str | None]:
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


def _check_det_label(label: str) -> tuple[str | None, list[str], list[list[float]]]:
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


# --- the whole folder ------------------------------------------------------------------------


def validate_dataset(
    folder: Path, *, task: str | None = None, skip_bad: bool = False, progress: Progress | None = None
) -> ValidationReport:
    """Check a dataset folder; never raises for a bad dataset (see ``report.errors``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"dataset folder not found: {folder}")
    if task is not None and task not in TASKS:
        raise BadInput(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    report = ValidationReport(folder=folder, task=task)
    label_files, file_problems = find_label_files(folder)
    report.label_files = label_files
    report.errors.extend(file_problems)

    # Pass 1: parse every line (cheap), collect the images to inspect.
    lines: dict[str, list[tuple[int, str | None]]] = {}
    for split, path in label_files.items():
        try:
            data = path.read_bytes()
        except OSError as err:
            report.errors.append(Problem(path.name, None, f"cannot read: {err.strerror}"))
            continue
        if not data.strip():
            report.errors.append(Problem(path.name, None, "label file is empty"))
            continue
        lines[split] = _decode_lines(data, path.name, report.warnings)
    if report.task is None:
        firsts = [text.partition("\t")[2] for split_lines in lines.values() for _, text in split_lines[:20] if text]
        report.task = _guess_task(label_files, firsts)

    line_problems: list[Problem] = []
    parsed: dict[str, list[tuple[int, str, str, list[str], list]]] = {}
    for split, split_lines in lines.items():
        name = label_files[split].name
        rows = parsed[split] = []
        for number, text in split_lines:
            if text is None:
                line_problems.append(Problem(name, number, "line is not UTF-8 text"))
                continue
            if not text.strip():
                continue  # blank lines (often trailing) carry nothing
            if len(text) > MAX_LINE_CHARS:
                line_problems.append(Problem(name, number, f"line is {len(text):,} characters long: not a label line"))
                continue
            path, sep, label = text.partition("\t")
            if not sep:
                line_problems.append(Problem(name, number, "no tab between image path and label"))
                continue
            image, why = _check_path(path)
            if why:
                line_problems.append(Problem(name, number, why))
                continue
            if "\t" in label:
                line_problems.append(
                    Problem(name, number, "label contains a tab (PaddleOCR would drop everything after it)")
                )
                continue
            if report.task == "det":
                why, texts, points = _check_det_label(label)
            else:
                texts, points = [label], []
                why = "empty label" if not label else None
                if len(label) > MAX_REC_LABEL_CHARS:
                    why = f"label is {len(label):,} characters long (over {MAX_REC_LABEL_CHARS:,}): not one line of text"
            if not why and any(_CONTROL.search(t) for t in texts):
                why = "control character in label"
            if why:
                line_problems.append(Problem(name, number, why))
                continue
            if report.task == "rec" and label != label.strip():
                report.warnings.append(Problem(name, number, f"label {label!r} starts or ends with whitespace"))
            rows.append((number, image, label, texts, points))

    # Pass 2: inspect each distinct image once: a stat for the memoised ones, then the rest (read,
    # hashed, header-checked) in parallel, since reading and hashing release the GIL.
    facts = FileFacts(folder)
    inspector = ImageInspector(folder, facts)
    unique = sorted({row[1] for rows in parsed.values() for row in rows})
    results: dict[str, ImageFile | str | None] = {rel: inspector.inspect(rel, read=False) for rel in unique}
    unread = [rel for rel, found in results.items() if found is None]
    done = len(unique) - len(unread)
    if progress:
        progress("validating", done, len(unique))
    chunk = 256
    chunks = [unread[i : i + chunk] for i in range(0, len(unread), chunk)]
    workers = min(4, (os.cpu_count() or 2) + 2)  # more threads only fight over the GIL
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for paths, found in zip(chunks, pool.map(lambda ps: [inspector.inspect(p) for p in ps], chunks)):
            results.update(zip(paths, found))
            done += len(paths)
            if progress:
                progress("validating", done, len(unique))
    facts.save()

    # Pass 3: per-line image problems, duplicates, conflicts, characters.
    characters: set[str] = set()
    seen_in: dict[str, str] = {}  # image -> split first seen in
    max_len = boxes = 0
    for split, rows in parsed.items():
        name = label_files[split].name
        labels_of: dict[str, str] = {}
        good = report.samples.setdefault(split, [])
        for number, image, label, texts, points in rows:
            found = results[image]
            if isinstance(found, str):
                line_problems.append(Problem(name, number, found))
                continue
            previous = labels_of.get(image)
            if previous is not None:
                if previous == label:
                    report.warnings.append(Problem(name, number, f"duplicate entry for {image}"))
                else:
                    line_problems.append(
                        Problem(name, number, f"{image} is labelled again with a different label ({previous!r} before)")
                    )
                    continue
            labels_of[image] = label
            first_split = seen_in.setdefault(image, split)
            if first_split != split:
                report.warnings.append(
                    Problem(name, number, f"{image} is in both {first_split} and {split} (inflates val accuracy)")
                )
            if found.format not in OPENCV_FORMATS:
                report.warnings.append(Problem(name, number, f"{image} is {found.format}: OpenCV may not decode it"))
            if points:
                boxes += len(texts)
                if any(x < -1 or y < -1 or x > found.width + 1 or y > found.height + 1 for x, y in points):
                    report.warnings.append(
                        Problem(name, number, f"a box lies outside the {found.width}x{found.height} image")
                    )
            for text in texts:
                if text != DET_IGNORED_TRANSCRIPTION:
                    characters.update(text)
                    max_len = max(max_len, len(text))
            good.append(Sample(image, label, number))
            report.images[image] = found

    line_problems.sort(key=lambda p: (p.file, p.line or 0))
    if skip_bad:
        report.skipped = len(line_problems)
        report.warnings.extend(Problem(p.file, p.line, f"skipped: {p.message}") for p in line_problems)
    else:
        report.errors.extend(line_problems)
    for split in lines:
        # Said only when no error of that file already explains it (e.g. every line skipped).
        if not report.samples.get(split) and not any(p.file == label_files[split].name for p in report.errors):
            report.errors.append(Problem(label_files[split].name, None, f"the {split} split has no usable lines"))

    report.characters = tuple(sorted(characters))
    report.counts = {
        "train": len(report.samples.get("train", ())),
        "val": len(report.samples.get("val", ())),
        "images": len(report.images),
        "image_bytes": sum(image.size for image in report.images.values()),
        "max_label_length": max_len,
        "skipped": report.skipped,
    }
    if report.task == "det":
        report.counts["boxes"] = boxes
    return report
