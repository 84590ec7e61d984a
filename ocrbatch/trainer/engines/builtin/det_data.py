"""Detection data for the builtin detector: frames, their text boxes, targets and augmented batches.

A label line is PaddleOCR's det format, ``image<TAB>[{"transcription": ..., "points": [[x, y] x 4]}]``
(boxes transcribed ``###`` are "do not care": neither text nor background). Frames are decoded once,
resized as ``DetResizeForTest`` resizes them at inference (the long side to ``side``, both sides
rounded to multiples of 32) and kept in memory.

The target is DB's: each box shrunk by ``D = area * (1 - r^2) / perimeter`` (r = SHRINK_RATIO), so
neighbouring lines stay apart; ``UNCLIP_RATIO`` grows a found region back by about as much.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyclipper

from ocrbatch.errors import BadInput
from ocrbatch.synth.opencv import cv2

SHRINK_RATIO = 0.6
# DBPostProcess grows a found core by area * u / perimeter. The u that undoes the shrink depends on
# the box's aspect: 1.1 at 3:1, 1.24 at 4:1, 1.28 at 6.7:1, 1.5 at 10:1 (computed with shrink()
# below); scores on a display are mostly 4:1 to 8:1.
UNCLIP_RATIO = 1.3
MAP_STRIDE = 2  # input pixels per probability-map pixel
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # paddlex NormalizeImage defaults
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
IGNORE_TEXT = "###"


@dataclass
class Frame:
    image: np.ndarray  # uint8 BGR, resized for the network
    boxes: list[np.ndarray]  # float32 [4, 2] quads in the resized image
    ignored: list[np.ndarray]  # "###" quads


def read_det_labels(label_file: Path) -> list[tuple[str, list[dict]]]:
    entries = []
    for number, line in enumerate(Path(label_file).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        path, _, raw = line.partition("\t")
        try:
            boxes = json.loads(raw)
            for box in boxes:
                if np.asarray(box["points"], dtype=np.float32).reshape(-1, 2).shape[0] < 3:
                    raise ValueError("a box needs at least 3 points")
        except (ValueError, KeyError, TypeError) as err:
            raise BadInput(f"{label_file}:{number}: not a det label ({err})") from None
        entries.append((path, boxes))
    return entries


def resized_shape(height: int, width: int, side: int) -> tuple[int, int]:
    """What DetResizeForTest (limit_type resize_long) makes of an image: long side ``side``, x32."""
    ratio = side / max(height, width)
    return max(32, round(height * ratio / 32) * 32), max(32, round(width * ratio / 32) * 32)


def load_frame(root: Path, path: str, boxes: list[dict], side: int) -> Frame:
    image = cv2.imread(str(root / path), cv2.IMREAD_COLOR)
    if image is None:
        raise BadInput(f"cannot read image {root / path}")
    h, w = image.shape[:2]
    rh, rw = resized_shape(h, w, side)
    scale = np.array([rw / w, rh / h], dtype=np.float32)
    image = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_AREA)
    quads = [(np.asarray(b["points"], dtype=np.float32).reshape(-1, 2) * scale, b.get("transcription")) for b in boxes]
    return Frame(image, [q for q, text in quads if text != IGNORE_TEXT], [q for q, text in quads if text == IGNORE_TEXT])


def load_frames(root: Path, entries: list[tuple[str, list[dict]]], side: int, workers: int = 2) -> list[Frame]:
    with ThreadPoolExecutor(workers) as pool:  # OpenCV decodes and resizes without the GIL
        return list(pool.map(lambda entry: load_frame(root, entry[0], entry[1], side), entries))


def shrink(quad: np.ndarray, ratio: float = SHRINK_RATIO) -> np.ndarray | None:
    area = abs(cv2.contourArea(quad))
    perimeter = cv2.arcLength(quad, True)
    if area < 1 or perimeter < 1:
        return None
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(np.round(quad).astype(np.int64).tolist(), pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    shrunk = offset.Execute(-area * (1 - ratio ** 2) / perimeter)
    return np.asarray(shrunk[0], dtype=np.float32) if shrunk else None


def target_maps(shape: tuple[int, int], boxes: list[np.ndarray], ignored: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(probability target, loss weight) at map resolution for an input of ``shape`` (h, w)."""
    h, w = shape[0] // MAP_STRIDE, shape[1] // MAP_STRIDE
    target = np.zeros((h, w), dtype=np.float32)
    weight = np.ones((h, w), dtype=np.float32)
    for quad in boxes:
        core = shrink(quad)
        if core is None or len(core) < 3:
            cv2.fillPoly(weight, [np.round(quad / MAP_STRIDE).astype(np.int32)], 0.0)  # too small to learn
            continue
        cv2.fillPoly(target, [np.round(core / MAP_STRIDE).astype(np.int32)], 1.0)
    for quad in ignored:
        cv2.fillPoly(weight, [np.round(quad / MAP_STRIDE).astype(np.int32)], 0.0)
    return target, weight


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W, 3] -> float32 [N, 3, H, W] as paddlex's NormalizeImage + ToCHWImage."""
    return ((images.astype(np.float32) / 255.0 - MEAN) / STD).transpose(0, 3, 1, 2)


def augmented(frame: Frame, side: int, rng: np.random.Generator) -> tuple[np.ndarray, list, list]:
    """The frame at a random scale and place on a ``side`` x ``side`` canvas, with light photometric
    jitter: displays fill anything from half to all of a real photo's width."""
    h, w = frame.image.shape[:2]
    scale = rng.uniform(0.5, 1.0) * min(side / w, side / h)
    nw, nh = max(8, int(w * scale)), max(8, int(h * scale))
    image = cv2.resize(frame.image, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.empty((side, side, 3), dtype=np.uint8)
    canvas[:] = rng.integers(0, 80, 3, dtype=np.uint8)
    x0, y0 = int(rng.integers(0, side - nw + 1)), int(rng.integers(0, side - nh + 1))
    canvas[y0:y0 + nh, x0:x0 + nw] = image
    gain, bias = rng.uniform(0.6, 1.4), rng.uniform(-25, 25)
    canvas = cv2.convertScaleAbs(canvas, alpha=gain, beta=bias)
    if rng.random() < 0.3:
        canvas = cv2.GaussianBlur(canvas, (3, 3), 0)
    move = np.array([nw / w, nh / h], dtype=np.float32), np.array([x0, y0], dtype=np.float32)
    return canvas, [q * move[0] + move[1] for q in frame.boxes], [q * move[0] + move[1] for q in frame.ignored]


def crop_origin(boxes: list[np.ndarray], side: int, crop: int, rng: np.random.Generator) -> tuple[int, int]:
    """Where to cut a ``crop`` window: mostly around a text box (jittered), sometimes anywhere."""
    if boxes and rng.random() < 0.8:
        centre = boxes[int(rng.integers(len(boxes)))].mean(axis=0) + rng.uniform(-crop / 2, crop / 2, 2)
    else:
        centre = rng.uniform(0, side, 2)
    x, y = (np.clip(centre - crop / 2, 0, side - crop) // MAP_STRIDE * MAP_STRIDE).astype(int)
    return int(x), int(y)


def training_batch(frames: list[Frame], indices, side: int, crop: int, rng: np.random.Generator):
    """Normalised images ``[N, 3, crop, crop]``, targets and loss weights ``[N, 1, crop/2, crop/2]``."""
    images, targets, weights = [], [], []
    m = crop // MAP_STRIDE
    for index in indices:
        canvas, boxes, ignored = augmented(frames[index], side, rng)
        target, weight = target_maps(canvas.shape[:2], boxes, ignored)
        x, y = crop_origin(boxes, side, crop, rng)
        images.append(canvas[y:y + crop, x:x + crop])
        mx, my = x // MAP_STRIDE, y // MAP_STRIDE
        targets.append(target[my:my + m, mx:mx + m])
        weights.append(weight[my:my + m, mx:mx + m])
    return normalize(np.stack(images)), np.stack(targets)[:, None], np.stack(weights)[:, None]
