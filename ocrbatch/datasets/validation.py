"""Validation of a dataset folder before anything moves (the folder convention is in ``__init__``).

Every problem is reported with its file and line; errors stop an upload, warnings do not. With
``skip_bad`` each line that has an error is dropped instead (and counted), so a mostly good dataset
can still go up. File-level errors (no train split, an empty label file) are never skippable.
Label lines are read from the folder's label files (``label_lines``) or, in a folder PPOCRLabel
wrote, from its files (``ppocrlabel_import``); a folder without a val file gets a held-out split
chosen from its content (``split``).

Speed matters (hundreds of thousands of files): label lines are parsed in one pass, images are
checked by a small thread pool (reads and hashing release the GIL), and the facts learnt about an
image (sha256, decoded size) are memoised in :mod:`ocrbatch.datasets.file_cache`, so validating an
unchanged folder again costs one ``stat`` per image.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ocrbatch.datasets import ppocrlabel
from ocrbatch.datasets.file_cache import FileFacts
from ocrbatch.datasets.image_files import ImageFile, ImageInspector
from ocrbatch.datasets.label_lines import (
    DET_IGNORED_TRANSCRIPTION,
    FETCHED_LABEL_NAMES,
    LABEL_FAMILIES,
    LabelSource,
    Problem,
    Sample,
    find_label_files,
    guess_task,
    parse_lines,
    read_label_files,
)
from ocrbatch.datasets.split import DEFAULT_VAL_FRACTION, HeldOutSplit, check_fraction, hold_out
from ocrbatch.errors import BadInput
from ocrbatch.tasks import TASKS

__all__ = ["FETCHED_LABEL_NAMES", "InvalidDataset", "Problem", "Sample", "ValidationReport", "validate_dataset"]

# OpenCV (what PaddleOCR decodes with) reads these; others may silently become skipped samples.
OPENCV_FORMATS = {"JPEG", "PNG", "BMP", "TIFF", "WEBP", "PPM", "JPEG2000"}

Progress = Callable[[str, int, int], None]  # (stage, done, total)


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
    skippable: int = 0  # errors that are bad lines, which skip_bad would drop
    split: HeldOutSplit | None = None  # how val was held out, when the folder has no val file
    derived: dict[str, str] = field(default_factory=dict)  # image made by ocrbatch -> its file (crops)
    origin: dict = field(default_factory=dict)  # what the manifest records about the folder's format

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
        kind = "PPOCRLabel " if self.origin.get("format") == "ppocrlabel" else ""
        return f"{self.task or 'unknown'} {kind}dataset: {body}; {tail}"

    def to_json(self) -> dict:
        return {
            "folder": str(self.folder),
            "ok": self.ok,
            "task": self.task,
            "label_files": {split: str(path) for split, path in self.label_files.items()},
            "counts": dict(self.counts),
            "skipped": self.skipped,
            "characters": "".join(self.characters),
            "split": self.split.to_json() if self.split else None,
            "source": dict(self.origin),
            "errors": [str(p) for p in self.errors],
            "warnings": [str(p) for p in self.warnings],
        }


class InvalidDataset(BadInput):
    """A dataset with errors: carries the report so the CLI can list the first problems."""

    def __init__(self, report: ValidationReport, *, uploading: bool = True):
        self.report = report
        first = report.errors[0] if report.errors else "unknown problem"
        outcome = "nothing was uploaded; " if uploading else ""
        # --skip-bad only drops bad lines: offered for other errors (no train file, too few images to
        # hold any out) it would send the user round in a circle.
        remedy = "fix them, or pass --skip-bad to drop bad lines" if report.skippable else "fix them"
        super().__init__(f"{report.folder}: {len(report.errors)} error(s), first: {first}; {outcome}{remedy}")


def validate_dataset(
    folder: Path,
    *,
    task: str | None = None,
    skip_bad: bool = False,
    progress: Progress | None = None,
    val_fraction: float | None = None,
    include_unchecked: bool = False,
) -> ValidationReport:
    """Check a dataset folder; never raises for a bad dataset (see ``report.errors``).

    Without a val file, ``val_fraction`` (default ``DEFAULT_VAL_FRACTION``) of the images are held
    out as val (``split``); with one, the file wins. ``include_unchecked``: a PPOCRLabel folder's
    images not checked in PPOCRLabel are trained on too (they are left out by default)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"dataset folder not found: {folder}")
    if task is not None and task not in TASKS:
        raise BadInput(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if val_fraction is not None:
        check_fraction(val_fraction)
    report = ValidationReport(folder=folder, task=task)
    facts = FileFacts(folder)
    inspector = ImageInspector(folder, facts)

    # Pass 1: the label lines, parsed (cheap); the images they name are looked at after.
    line_problems: list[Problem] = []
    label_files, file_problems = find_label_files(folder)
    if "train" not in label_files and ppocrlabel.is_ppocrlabel_folder(folder):
        sources, groups = _ppocrlabel_sources(report, inspector, include_unchecked, progress, line_problems)
    elif "train" not in label_files:
        report.errors.extend(file_problems)
        report.errors.append(_no_train_file())
        sources, groups = {}, {}
    else:
        report.errors.extend(file_problems)
        report.label_files = label_files
        sources, groups = read_label_files(label_files, report.errors, report.warnings), {}
    if report.task is None:
        firsts = [text.partition("\t")[2] for source in sources.values() for _, text in source.lines[:20] if text]
        report.task = guess_task(label_files, firsts)
    parsed = {split: parse_lines(source, report.task, line_problems, report.warnings) for split, source in sources.items()}

    # Pass 2: inspect each distinct image once: a stat for the memoised ones, then the rest (read,
    # hashed, header-checked) in parallel, since reading and hashing release the GIL.
    unique = sorted({row.image for rows in parsed.values() for row in rows})
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
        name = sources[split].name
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
                    outside = Problem(name, number, f"a box lies outside the {found.width}x{found.height} image {image}")
                    if not report.origin:
                        report.warnings.append(outside)
                    else:  # PPOCRLabel keeps boxes on the image: the image changed after labelling
                        line_problems.append(Problem(name, number, f"{outside.message} (replaced or rotated after labelling?)"))
                        continue
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
        report.skippable = len(line_problems)
    for split, source in sources.items():
        # Said only when no error of that file already explains it (e.g. every line skipped).
        if not report.samples.get(split) and not any(p.file == source.name for p in report.errors):
            report.errors.append(Problem(source.name, None, f"the {split} split has no usable lines"))


    if "val" not in sources and report.samples.get("train"):
        _hold_out(report, groups, val_fraction)
    elif "val" in sources and val_fraction is not None:
        report.warnings.append(
            Problem(report.label_files["val"].name, None, "is the val split: --val-fraction ignored (a val file always wins)")
        )

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


def _no_train_file() -> Problem:
    names = ", ".join(LABEL_FAMILIES["train"][0])
    return Problem(
        ".", None,
        f"no train label file: expected one of {names}, or PPOCRLabel's {ppocrlabel.LABEL_FILE} / {ppocrlabel.REC_GT}",
    )


def _ppocrlabel_sources(report, inspector, include_unchecked, progress, line_problems) -> tuple[dict[str, LabelSource], dict]:
    from ocrbatch.datasets.ppocrlabel_import import read_ppocrlabel_lines

    report.task = report.task or "rec"  # what the builtin engine trains; --task det reads the boxes
    found = read_ppocrlabel_lines(
        report.folder, report.task, inspector, include_unchecked=include_unchecked, progress=progress
    )
    report.errors.extend(found.errors)
    line_problems.extend(found.line_problems)
    report.warnings.extend(found.warnings)
    report.label_files = {"train": found.label_file}
    report.derived = dict(found.derived)
    inspector.derived.update(found.derived)
    inspector.known.update(found.known)
    report.origin = found.describe(include_unchecked)
    return {"train": found.source}, found.groups


def _hold_out(report: ValidationReport, groups: dict, val_fraction: float | None) -> None:
    fraction = DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction
    content = {path: image.sha256 for path, image in report.images.items()}
    try:
        train, val, how = hold_out(report.samples["train"], report.task, content=content, groups=groups, fraction=fraction)
    except ValueError as err:
        report.errors.append(Problem(".", None, f"no val file, and {err}: add images, or a val.txt"))
        return
    report.samples["train"], report.samples["val"], report.split = train, val, how
