"""A PPOCRLabel folder as a dataset (its files are ``ppocrlabel``'s): the train lines validation checks.

What a folder a user labelled in PPOCRLabel becomes, decided here:

* ``--task det``: the boxes of ``Label.txt``, image paths freed of the folder-name prefix PPOCRLabel
  writes. A box outside its image is an error here (a warning elsewhere): PPOCRLabel keeps boxes on
  the image, so one outside means the image was replaced or rotated after labelling.
* ``rec`` (the default, what the builtin engine trains): ``rec_gt.txt`` + ``crop_img/`` as PPOCRLabel
  exported them. Without ``crop_img/`` (nothing exported, or the crops not copied), each ``Label.txt``
  box is cut the way PaddleOCR cuts it (``crops``) into ocrbatch's cache, once per image content and
  box, and published as ``crop_img/<image>_crop_<n>.png``; ``difficult`` and ``###`` boxes are not.
* Images PPOCRLabel lists in ``Label.txt`` but ``fileState.txt`` does not mark checked hold the model's
  unreviewed proposals: they are left out, counted and named, unless ``include_unchecked``. Without
  a ``fileState.txt`` every labelled image counts as reviewed (a hand-made folder).
* The crops of one photo stay together in the held-out split (``groups``), so a photo never trains
  and evaluates at once. PPOCRLabel writes no val file, so the split is always held out.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ocrbatch.datasets import ppocrlabel
from ocrbatch.datasets.file_cache import cache_dir
from ocrbatch.datasets.image_files import ImageFile, ImageInspector
from ocrbatch.datasets.label_lines import DET_IGNORED_TRANSCRIPTION, LabelSource, Problem

SHOWN_NAMES = 5
CROP_FORMAT = "crop-v1"  # part of each cut crop's cache key: bump when the cut itself changes
BOX_TOLERANCE = 1  # pixels: PPOCRLabel rounds points to integers
# zlib level of the cut crops: level 1 encodes twice as fast as Pillow's default 6 (measured on
# generated display crops) for files a little larger; the crops are small next to the photos.
PNG_LEVEL = 1

Progress = Callable[[str, int, int], None]


@dataclass
class PPOCRLabelLines:
    label_file: Path  # the file the lines come from (Label.txt, or rec_gt.txt)
    source: LabelSource
    errors: list[Problem] = field(default_factory=list)  # the folder's files: never skippable
    line_problems: list[Problem] = field(default_factory=list)  # one line's: --skip-bad drops the line
    warnings: list[Problem] = field(default_factory=list)
    derived: dict[str, str] = field(default_factory=dict)  # cut crop -> its file in the cache
    known: dict[str, ImageFile] = field(default_factory=dict)  # crops cut now: their facts
    groups: dict[str, str] = field(default_factory=dict)  # crop -> the photo it was cut from
    unchecked: list[str] = field(default_factory=list)  # images left out (or, included, counted)

    def describe(self, include_unchecked: bool) -> dict:
        """What the manifest records about where the version came from."""
        return {
            "format": "ppocrlabel",
            "lines_from": self.label_file.name,
            "unchecked_images": len(self.unchecked),
            "unchecked_included": include_unchecked,
            "crops_cut_from_label_txt": len(self.derived),
            **({"prelabelled_by": record} if (record := ppocrlabel.read_prelabel_record(self.label_file.parent)) else {}),
        }


def read_ppocrlabel_lines(
    folder: Path, task: str, inspector: ImageInspector, *, include_unchecked: bool = False,
    progress: Progress | None = None,
) -> PPOCRLabelLines:
    """The train lines of the PPOCRLabel folder ``folder`` for ``task`` (rec or det), with what the
    import found on the way; ``inspector`` looks at the photos crops are cut from."""
    folder = Path(folder)
    label_path = folder / ppocrlabel.LABEL_FILE
    try:
        states, broken_state = ppocrlabel.read_file_state(folder), None
    except ppocrlabel.LabelFileError as err:
        states, broken_state = None, Problem(err.file, err.line, err.reason)
    label_lines = _numbered(label_path)
    images, stems = _images(folder, label_lines)
    unchecked = sorted({image for image in images.values() if states is not None and not states.get(image, False)})
    left_out = set() if include_unchecked else set(unchecked)

    if task == "det":
        result = PPOCRLabelLines(label_path, LabelSource(label_path.name))
        _need(label_path, result)
        for number, text in label_lines:
            image = images.get(number)
            if image is None:
                result.source.lines.append((number, text))  # the line parser names what is wrong
            elif image not in left_out:
                boxes = text.partition("\t")[2]
                result.source.lines.append((number, f"{image}\t{boxes}"))
    elif (folder / ppocrlabel.CROP_DIR).is_dir() and (folder / ppocrlabel.REC_GT).is_file():
        result = _exported_crops(folder, stems, left_out)
    else:
        result = PPOCRLabelLines(label_path, LabelSource(label_path.name))
        _need(label_path, result)
        _cut_crops(folder, label_lines, images, left_out, inspector, result, progress)
    result.unchecked = unchecked
    if broken_state:
        result.errors.append(broken_state)
    if unchecked and not include_unchecked and len(unchecked) == len(set(images.values())):
        result.errors.append(Problem(
            label_path.name, None,
            f"none of its {len(unchecked)} image(s) is checked in PPOCRLabel ({ppocrlabel.FILE_STATE}): check them "
            "there, or pass --include-unchecked (upload, submit, pipeline, sweep) to train on the labels as they are",
        ))
    elif unchecked:
        named = ", ".join(unchecked[:SHOWN_NAMES]) + (" ..." if len(unchecked) > SHOWN_NAMES else "")
        what = "included (--include-unchecked)" if include_unchecked else "left out; --include-unchecked takes them too"
        result.warnings.append(
            Problem(ppocrlabel.FILE_STATE, None, f"{len(unchecked)} labelled image(s) not checked in PPOCRLabel: {named}: {what}")
        )
    return result


def _numbered(path: Path) -> list[tuple[int, str | None]]:
    if not path.is_file():
        return []
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    lines = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            lines.append((number, raw.decode("utf-8").removesuffix("\r")))
        except UnicodeDecodeError:
            lines.append((number, None))
    return lines


def _images(folder: Path, lines) -> tuple[dict[int, str], dict[str, str]]:
    """Label.txt line -> image (relative to the folder), and image stem -> image."""
    images, stems = {}, {}
    for number, text in lines:
        if text and "\t" in text:
            image = ppocrlabel.image_of_key(folder, text.partition("\t")[0])
            if image:
                images[number] = image
                stems.setdefault(posixpath.splitext(posixpath.basename(image))[0], image)
    return images, stems


def _need(label_path: Path, result: PPOCRLabelLines) -> None:
    if not label_path.is_file():
        result.errors.append(
            Problem(label_path.name, None, "missing: PPOCRLabel writes it when images are checked (File > Export Label)")
        )


def _exported_crops(folder: Path, stems: dict[str, str], left_out: set[str]) -> PPOCRLabelLines:
    """rec_gt.txt's lines, less the crops of unchecked photos; each crop grouped with its photo."""
    rec_path = folder / ppocrlabel.REC_GT
    result = PPOCRLabelLines(rec_path, LabelSource(rec_path.name))
    boxes = _label_texts(folder)
    for number, text in _numbered(rec_path):
        source = ppocrlabel.source_of_crop(text.partition("\t")[0]) if text else None
        photo = stems.get(source[0]) if source else None
        if photo in left_out:
            continue
        if photo and text and "\t" in text:
            crop, _, label = text.partition("\t")
            result.groups[posixpath.normpath(crop.replace("\\", "/"))] = photo
            expected = boxes.get(photo, [])
            if source[1] < len(expected) and expected[source[1]] != label:
                result.warnings.append(Problem(
                    rec_path.name, number,
                    f"{label!r} differs from Label.txt's box {source[1]} of {photo} ({expected[source[1]]!r}): "
                    "export the recognition results again in PPOCRLabel",
                ))
        result.source.lines.append((number, text))
    return result


def _label_texts(folder: Path) -> dict[str, list[str]]:
    texts = {}
    for number, text in _numbered(folder / ppocrlabel.LABEL_FILE):
        if not text or "\t" not in text:
            continue
        key, _, label = text.partition("\t")
        try:
            texts[ppocrlabel.image_of_key(folder, key)] = [box.transcription for box in ppocrlabel.parse_boxes(label)]
        except ValueError:
            continue
    return texts


def _cut_crops(folder, lines, images, left_out, inspector, result, progress) -> None:
    """One rec line per box of each (checked) Label.txt line, its crop cut into the cache. Photos
    are decoded and cut a few at a time: decoding and resampling release the GIL."""
    name = ppocrlabel.LABEL_FILE
    jobs = []  # (line, image, boxes)
    for number, text in lines:
        if text is not None and not text.strip():
            continue
        if text is None or "\t" not in text:
            result.source.lines.append((number, text))  # the line parser names what is wrong
            continue
        image = images.get(number, "")
        if image in left_out:
            continue
        try:
            jobs.append((number, image, ppocrlabel.parse_boxes(text.partition("\t")[2])))
        except ValueError as err:
            result.line_problems.append(Problem(name, number, str(err)))

    def cut(job) -> list[tuple[int, str, str | None, str]]:  # (box, crop path, cached file or None, why)
        number, image, boxes = job
        found = inspector.inspect(image)
        if isinstance(found, str):
            return [(-1, "", None, found)]
        stem = posixpath.splitext(image)[0]
        photo = _Photo(folder / found.path)
        cuts = []
        for index, box in enumerate(boxes):
            if box.difficult or box.transcription == DET_IGNORED_TRANSCRIPTION:
                continue
            crop_path = f"{ppocrlabel.CROP_DIR}/{stem}_crop_{index}.png"
            why = _outside(box.points, found)
            cached, why = (None, why) if why else _cut(photo, found.sha256, box.points, crop_path, result.known)
            cuts.append((index, crop_path, cached, why or ""))
        return cuts

    workers = min(4, (os.cpu_count() or 2) + 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done, ((number, image, boxes), cuts) in enumerate(zip(jobs, pool.map(cut, jobs)), 1):
            if progress:
                progress("validating", done, len(jobs))
            for index, crop_path, cached, why in cuts:
                if cached is None:
                    where = f"box {index + 1}: " if index >= 0 else ""
                    result.line_problems.append(Problem(name, number, f"{where}{why}"))
                    continue
                result.derived[crop_path] = cached
                result.groups[crop_path] = image
                transcription = boxes[index].transcription
                result.source.lines.append((number, f"{crop_path}\t{transcription}"))


def _outside(points, image: ImageFile) -> str | None:
    if any(x < -BOX_TOLERANCE or y < -BOX_TOLERANCE or x > image.width + BOX_TOLERANCE or y > image.height + BOX_TOLERANCE
           for x, y in points):
        return (f"lies outside the {image.width}x{image.height} image {image.path} (PPOCRLabel keeps boxes on the "
                "image: was it replaced or rotated after labelling?)")
    return None


class _Photo:
    """A photo decoded on first use only: when every crop of it is in the cache, it is never read."""

    def __init__(self, path: Path):
        self.path = path
        self._image = None

    def image(self):
        if self._image is None:
            from PIL import Image, ImageOps

            with Image.open(self.path) as opened:
                opened.load()
                # OpenCV, which PaddleOCR reads images with, applies the EXIF orientation: so do we.
                ImageOps.exif_transpose(opened, in_place=True)
                self._image = opened if opened.mode == "RGB" else opened.convert("RGB")
        return self._image


def _cut(photo: _Photo, sha256: str, points, crop_path: str, known: dict) -> tuple[str | None, str | None]:
    """``(the crop's file in the cache, None)``, cut now or found already cut, or ``(None, why not)``.
    A crop cut now is described in ``known``: nobody has to read it back to learn its sha256."""
    key = hashlib.sha256(json.dumps([CROP_FORMAT, sha256, points]).encode()).hexdigest()[:40]
    target = cache_dir() / "crops" / key[:2] / f"{key}.png"
    if target.is_file():
        return str(target), None
    from ocrbatch.datasets.crops import crop_box

    try:
        crop = crop_box(photo.image(), points)
    except (OSError, ValueError) as err:
        return None, str(err)
    buffer = io.BytesIO()
    crop.save(buffer, format="PNG", compress_level=PNG_LEVEL)
    data = buffer.getvalue()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    stamp = target.stat().st_mtime_ns
    known[crop_path] = ImageFile(crop_path, len(data), hashlib.sha256(data).hexdigest(), *crop.size, "PNG", stamp)
    return str(target), None
