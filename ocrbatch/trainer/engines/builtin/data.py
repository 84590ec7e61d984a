"""Training data for the builtin recognizer: the character set, labelled samples and batches.

Images are read as BGR (``cv2.IMREAD_COLOR``, like PaddleOCR's ``DecodeImage img_mode: BGR``),
resized to height 48 keeping their aspect ratio (``ceil(48 * w / h)``, as paddlex's
``OCRReisizeNormImg`` does) and normalised like ``RecResizeImg``: ``(x / 255 - 0.5) / 0.5``. A batch is
padded on the right with zeros in normalised space, which is also what paddlex pads with.

Batches are planned per epoch from ``(seed, epoch)`` alone, and augmentation draws from
``(seed, epoch, step)``, so a resumed run replays exactly the batches it had not yet trained on.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np
from PIL import Image

from ocrbatch.errors import BadInput

INPUT_HEIGHT = 48
SPACE = " "


@dataclass(frozen=True)
class Charset:
    """The dictionary written to ``dict.txt`` and ``inference.yml``, and the class index of each character.

    PaddleOCR's ``CTCLabelDecode`` builds its classes as ``["blank"] + dictionary + [" "]``: it always
    appends a space. So the space is never a dictionary line here; it is the last class.
    """

    characters: tuple[str, ...]  # dictionary lines, in order, without the space

    @classmethod
    def from_characters(cls, characters: Sequence[str]) -> "Charset":
        seen: list[str] = []
        for char in characters:
            if len(char) != 1:
                raise BadInput(f"character dictionary entries must be single characters, got {char!r}")
            if char != SPACE and char not in seen:
                seen.append(char)
        if not seen:
            raise BadInput("the character set is empty: the dataset labels contain no characters")
        return cls(tuple(seen))

    @classmethod
    def from_dict_file(cls, path: Path) -> "Charset":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise BadInput(f"cannot read character dict {path}: {err.strerror}") from None
        return cls.from_characters([line for line in lines if line != ""])

    @property
    def num_classes(self) -> int:
        return len(self.characters) + 2  # blank first, space last

    @cached_property
    def _classes(self) -> tuple[str, ...]:
        return ("",) + self.characters + (SPACE,)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {char: i for i, char in enumerate(self._classes) if i}

    def encode(self, text: str) -> list[int] | None:
        """Class indices of ``text``, or None when it holds a character outside the set."""
        try:
            return [self._index[char] for char in text]
        except KeyError:
            return None

    def decode(self, classes: np.ndarray) -> str:
        """Greedy CTC decoding of one frame sequence of class indices (merge repeats, drop blanks)."""
        table = self._classes
        out, previous = [], -1
        for cls_index in classes.tolist():
            if cls_index != previous and cls_index != 0:
                out.append(table[cls_index])
            previous = cls_index
        return "".join(out)

    def write(self, path: Path) -> None:
        path.write_text("".join(char + "\n" for char in self.characters), encoding="utf-8")


@dataclass(frozen=True)
class Sample:
    image: Path
    text: str
    label: tuple[int, ...]


def read_label_file(label_file: Path, root: Path, charset: Charset) -> tuple[list[Sample], dict]:
    """Parse ``relative/path<TAB>label`` lines. Returns the samples and counts of skipped lines."""
    samples, skipped = [], {"empty_label": 0, "unknown_characters": 0}
    try:
        lines = label_file.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise BadInput(f"cannot read label file {label_file}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"label file {label_file} is not UTF-8 text") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        path, sep, text = line.partition("\t")
        if not sep or not path:
            raise BadInput(f"{label_file.name}:{number}: expected '<image path><TAB><label>'")
        if text == "":
            skipped["empty_label"] += 1
            continue
        label = charset.encode(text)
        if label is None:
            skipped["unknown_characters"] += 1
            continue
        samples.append(Sample(root / path, text, tuple(label)))
    return samples, skipped


def read_image(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data is not None and data.size else None
    if image is None or image.size == 0:
        raise BadInput(f"cannot read image {path}")
    return image


def resize_to_height(image: np.ndarray, max_width: int, height: int = INPUT_HEIGHT) -> np.ndarray:
    """``height`` rows, aspect kept (width rounded up like paddlex), width capped at ``max_width``."""
    rows, width = image.shape[:2]
    new_width = max(1, min(max_width, math.ceil(height * width / rows)))
    return cv2.resize(image, (new_width, height))


def frames_needed(label: Sequence[int]) -> int:
    """CTC needs one frame per character plus a blank between equal neighbours."""
    return len(label) + sum(1 for a, b in zip(label, label[1:]) if a == b)


class ImageCache:
    """Resized images kept in memory (up to a budget), so later epochs skip decoding."""

    def __init__(self, samples: Sequence[Sample], max_width: int, budget_bytes: int, height: int = INPUT_HEIGHT):
        self.samples = samples
        self.max_width = max_width
        self.height = height  # rows every image is resized to
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self._images: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, index: int) -> np.ndarray:
        image = self._images.get(index)
        if image is None:
            image = resize_to_height(read_image(self.samples[index].image), self.max_width, self.height)
            with self._lock:
                if self.used_bytes + image.nbytes <= self.budget_bytes:
                    self._images[index] = image
                    self.used_bytes += image.nbytes
        return image

    def widths(self, pool: ThreadPoolExecutor) -> np.ndarray:
        """Resized width of every sample, from the image headers (nothing is decoded yet)."""
        return np.array(list(pool.map(self._width, self.samples)), dtype=np.int64)

    def _width(self, sample: Sample) -> int:
        try:
            with Image.open(sample.image) as image:
                width, height = image.size
        except (OSError, ValueError):
            raise BadInput(f"cannot read image {sample.image}") from None
        return max(1, min(self.max_width, math.ceil(self.height * width / height)))


@dataclass
class Batch:
    images: np.ndarray  # [N, 3, H, W] float32
    labels: np.ndarray  # [N, L] int32, zero-padded
    label_lengths: np.ndarray  # [N] int64
    texts: list[str]


def plan_epoch(widths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Sample indices of every batch of one epoch: shuffled, then grouped by similar width.

    Chunks of 32 batches are sorted by width so that little of each batch is padding; the batch
    order is shuffled again so that widths do not drift through the epoch.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(widths))
    chunk = batch_size * 32
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(widths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def plan_eval(widths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    order = np.argsort(widths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def augment(image: np.ndarray, rng: np.random.Generator, max_width: int) -> np.ndarray:
    """Cheap photometric and geometric jitter on a resized uint8 line image (same height out): the
    ways one display, camera or renderer differs from another, so the reader learns the digits."""
    height, width = image.shape[:2]
    if rng.random() < 0.5:  # re-frame vertically: crop a few rows off the top/bottom
        top, bottom = rng.integers(0, 4), rng.integers(0, 4)
        image = image[top : height - bottom]
    if rng.random() < 0.5:  # horizontal scale, as different fonts/crops are wider or narrower
        width = int(np.clip(round(width * rng.uniform(0.8, 1.2)), 8, max_width))
    if image.shape[0] != height or image.shape[1] != width:
        image = cv2.resize(image, (width, height))
    if rng.random() < 0.3:  # slant either way: italic fonts, slanted segment displays, a tilted camera
        shear = rng.uniform(-0.2, 0.2)
        matrix = np.float32([[1, shear, -shear * height / 2], [0, 1, 0]])
        image = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.2:  # resolution loss: a far or cheap camera, scaled back up
        factor = rng.uniform(0.35, 0.7)
        small = cv2.resize(image, (max(4, round(width * factor)), max(4, round(height * factor))),
                           interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:  # gain and brightness, down to a dim display with small dots
        image = np.clip(image * rng.uniform(0.35, 1.25) + rng.uniform(-25, 25), 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        image = cv2.GaussianBlur(image, (3, 3), 0)
    if rng.random() < 0.2:  # sensor noise
        noise = rng.normal(0.0, rng.uniform(3, 12), image.shape)
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:  # swap colour channels: display colours vary
        image = np.ascontiguousarray(image[:, :, rng.permutation(3)])
    if rng.random() < 0.1:  # a grey camera or a white display
        image = np.repeat(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[:, :, None], 3, axis=2)
    return image


def assemble(images: list[np.ndarray], samples: list[Sample], extra_pad: int = 0, min_width: int = 0) -> Batch:
    width = max(max(image.shape[1] for image in images) + extra_pad, min_width)
    width = -(-width // 4) * 4  # whole output frames
    canvas = np.full((len(images), images[0].shape[0], width, 3), 127.5, dtype=np.float32)
    for row, image in enumerate(images):
        canvas[row, :, : image.shape[1]] = image
    longest = max(len(s.label) for s in samples)
    labels = np.zeros((len(samples), longest), dtype=np.int32)
    for row, sample in enumerate(samples):
        labels[row, : len(sample.label)] = sample.label
    return Batch(
        images=canvas.transpose(0, 3, 1, 2) / np.float32(127.5) - np.float32(1.0),
        labels=labels,
        label_lengths=np.array([len(s.label) for s in samples], dtype=np.int64),
        texts=[s.text for s in samples],
    )


class BatchStream:
    """Builds batches on worker threads (OpenCV and NumPy release the GIL), in order, a few ahead.

    ``min_width`` pads every batch to at least that width, as stock paddleocr does (320 px), so that
    evaluation sees lines exactly as the exported model will.
    """

    def __init__(self, cache: ImageCache, pool: ThreadPoolExecutor, *, augment: bool = False,
                 min_width: int = 0, prefetch: int = 4):
        self.cache = cache
        self.pool = pool
        self.augment = augment
        self.min_width = min_width
        self.prefetch = prefetch

    def _build(self, indices: np.ndarray, rng: np.random.Generator | None) -> Batch:
        images = [self.cache.get(int(i)) for i in indices]
        extra_pad = 0
        if rng is not None:
            if self.augment:
                images = [augment(image, rng, self.cache.max_width) for image in images]
            # Stock paddleocr pads every line to at least 320 px: show the model long padded tails.
            if rng.random() < 0.5:
                extra_pad = int(rng.integers(4, 96))
        return assemble(images, [self.cache.samples[int(i)] for i in indices], extra_pad, self.min_width)

    def iterate(self, batches: list[np.ndarray], seed: int | None = None, epoch: int = 0,
                start: int = 0) -> Iterator[tuple[int, Batch]]:
        """Yield ``(step, batch)`` from ``start``. With a seed (training), batches get random padding
        and augmentation drawn from (seed, epoch, step)."""
        pending: deque = deque()
        steps = iter(range(start, len(batches)))

        def submit():
            step = next(steps, None)
            if step is not None:
                rng = None if seed is None else np.random.default_rng([seed, epoch, step, 7])
                pending.append((step, self.pool.submit(self._build, batches[step], rng)))

        for _ in range(self.prefetch):
            submit()
        while pending:
            step, future = pending.popleft()
            submit()
            yield step, future.result()
