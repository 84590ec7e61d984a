"""Tiny generated datasets for the dataset tests (PIL images of a few pixels, label files)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image


def image_bytes(seed: int, fmt: str = "PNG", size: tuple[int, int] = (12, 8)) -> bytes:
    """A tiny image whose pixels depend on ``seed`` (different seeds, different bytes)."""
    image = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    image.putpixel((seed % size[0], 0), (255 - (seed % 256), 0, 0))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def make_dataset(folder: Path, *, train: int = 8, val: int = 3, det: bool = False, start: int = 0) -> Path:
    """A valid dataset: ``imgs/NNNN.png`` (every third a JPEG), train.txt and val.txt."""
    (folder / "imgs").mkdir(parents=True, exist_ok=True)
    lines = {"train": [], "val": []}
    for number in range(start, start + train + val):
        fmt = "JPEG" if number % 3 == 0 else "PNG"
        rel = f"imgs/{number:04d}.{'jpg' if fmt == 'JPEG' else 'png'}"
        (folder / rel).write_bytes(image_bytes(number, fmt))
        text = f"{number * 7 % 1000:,}"
        label = json.dumps([{"transcription": text, "points": [[1, 1], [10, 1], [10, 7], [1, 7]]}]) if det else text
        lines["train" if number - start < train else "val"].append(f"{rel}\t{label}\n")
    for split, split_lines in lines.items():
        (folder / f"{split}.txt").write_text("".join(split_lines), encoding="utf-8")
    return folder


def photo(seed: int, size: tuple[int, int] = (96, 48)) -> "Image.Image":
    """A tiny 'photo': a light background and a dark display band whose shade depends on ``seed``."""
    from PIL import ImageDraw

    image = Image.new("RGB", size, (200 + seed % 40, 190, 180))
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 10, size[0] - 10, size[1] - 12), fill=(20 + seed % 60, 30, 40))
    draw.line((12, 14, 12 + (seed * 7) % 60, size[1] - 16), fill=(250, 120, 0), width=2)
    return image


def make_ppocrlabel(
    folder: Path, *, count: int = 6, unchecked: tuple[int, ...] = (), export_crops: bool = True, windows_paths: bool = False
) -> Path:
    """A folder as PPOCRLabel leaves it, written here straight from its documented formats (not with
    ocrbatch's writer): ``photo_NNN.jpg``, ``Label.txt`` (``<folder>/<image>\\t[boxes]``),
    ``fileState.txt`` (absolute paths of the checked images), and unless ``export_crops`` is False,
    ``rec_gt.txt`` + ``crop_img/`` for the checked images. Images ``unchecked`` are labelled (the
    model's proposals) but not in fileState.txt. Every second image has a second, tilted box."""
    folder.mkdir(parents=True, exist_ok=True)
    label_lines, states, rec_lines = [], [], []
    if export_crops:
        (folder / "crop_img").mkdir(exist_ok=True)
    for number in range(count):
        name = f"photo_{number:03d}.jpg"
        image = photo(number)
        image.save(folder / name, format="JPEG", quality=90)
        boxes = [{"transcription": f"{number * 1234 % 100000:,}", "points": [[8, 10], [86, 10], [86, 36], [8, 36]], "difficult": False}]
        if number % 2:
            boxes.append({"transcription": f"P{number % 4 + 1}", "points": [[10, 38], [40, 36], [41, 46], [11, 47]], "difficult": False})
        label_lines.append(f"{folder.name}/{name}\t{json.dumps(boxes, ensure_ascii=False)}\n")
        if number in unchecked:
            continue
        absolute = f"C:\\Users\\me\\{folder.name}\\{name}" if windows_paths else f"/home/me/{folder.name}/{name}"
        states.append(f"{absolute}\t1\n")
        if export_crops:
            for index, box in enumerate(boxes):
                xs = [p[0] for p in box["points"]]
                ys = [p[1] for p in box["points"]]
                crop = image.crop((min(xs), min(ys), max(xs), max(ys)))
                crop_rel = f"crop_img/photo_{number:03d}_crop_{index}.jpg"
                crop.save(folder / crop_rel, format="JPEG")
                rec_lines.append(f"{crop_rel}\t{box['transcription']}\n")
    (folder / "Label.txt").write_text("".join(label_lines), encoding="utf-8")
    (folder / "fileState.txt").write_text("".join(states), encoding="utf-8")
    if export_crops:
        (folder / "rec_gt.txt").write_text("".join(rec_lines), encoding="utf-8")
    return folder
