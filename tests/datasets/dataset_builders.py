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
