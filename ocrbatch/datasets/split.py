"""The held-out split of a dataset that has no val file: chosen from its content, the same every time.

* The unit is a photo, not a line: the lines of one image (and the crops cut from one photo, see
  ``ppocrlabel_import``) land on the same side, and so do byte-identical images, so nothing is
  evaluated on what it trained on.
* Each unit is ranked by the sha256 of its content (its images' sha256 and labels), not by path or
  line order: re-uploading, renaming or reordering the files gives the same split, and a unit once
  held out stays held out as the dataset grows (ranks of the others do not move).
* Stratified where the labels allow: units are grouped by what their labels say about the display
  (text length, digits only / digits with separators / letters / mixed; box count for detection)
  and by top-level folder when the images are sorted into several; each stratum gives its share
  (largest remainders, so the total is exact, the first leftovers going to strata that would
  otherwise give none), so a rare look is held out too, not only the common one.
* ``fraction`` of the units (at least one, and at least one left to train on) go to val.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping, Sequence

from ocrbatch.datasets.label_lines import DET_IGNORED_TRANSCRIPTION, Sample
from ocrbatch.errors import BadInput

DEFAULT_VAL_FRACTION = 0.05
LENGTH_BANDS = (3, 6, 9, 13)  # 1,234 / 123,456 / 1,234,567 / 12,345,678,90 / longer

_DIGITS = re.compile(r"^[0-9]+$")
_NUMBER = re.compile(r"^[0-9][0-9 ,.:'/-]*$")
_LETTERS = re.compile(r"^[^\W\d_]+$")


@dataclass(frozen=True)
class HeldOutSplit:
    """How the val split was chosen: printed by ``validate``/``upload``, recorded in the manifest."""

    fraction: float
    train: int  # lines
    val: int
    units: int  # images (photos) split
    val_units: int
    strata: int

    def to_json(self) -> dict:
        return {
            "method": "held-out by content",
            "fraction": self.fraction,
            "train_lines": self.train,
            "val_lines": self.val,
            "images": self.units,
            "val_images": self.val_units,
            "strata": self.strata,
        }

    @classmethod
    def from_json(cls, data: dict) -> "HeldOutSplit":
        return cls(data["fraction"], data["train_lines"], data["val_lines"], data["images"], data["val_images"], data["strata"])

    def summary(self) -> str:
        return (
            f"no val file: held out {self.val_units} of {self.units} images ({self.val} lines, "
            f"--val-fraction {self.fraction:g}) as val, chosen by content across {self.strata} strata "
            "(the same on every upload; a val.txt overrides it)"
        )


def check_fraction(fraction: float) -> float:
    if not (0 < fraction < 1) or math.isnan(fraction):
        raise BadInput(f"--val-fraction must be between 0 and 1 (e.g. 0.05 for 5 %), got {fraction!r}")
    return fraction


def hold_out(
    samples: Sequence[Sample],
    task: str,
    *,
    content: Mapping[str, str],
    groups: Mapping[str, str] | None = None,
    fraction: float = DEFAULT_VAL_FRACTION,
) -> tuple[list[Sample], list[Sample], HeldOutSplit]:
    """``(train, val, how)``. ``content`` maps each image to its sha256; ``groups`` keeps images
    together (image -> its photo). Raises ValueError when there are fewer than two units."""
    check_fraction(fraction)
    groups = groups or {}
    members: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        members[groups.get(sample.image) or content[sample.image]].append(sample)
    if len(members) < 2:
        raise ValueError(f"{len(members)} image(s): too few to hold any out for val")

    folders = {_top_folder(unit_samples[0].image) for unit_samples in members.values()}
    strata: dict[str, list[tuple[str, str]]] = defaultdict(list)  # stratum -> [(rank, unit)]
    for unit, unit_samples in members.items():
        rank = hashlib.sha256(
            "\n".join(sorted(f"{content[s.image]}\t{s.label}" for s in unit_samples)).encode()
        ).hexdigest()
        folder = _top_folder(unit_samples[0].image) if len(folders) > 1 else ""
        strata[f"{folder}|{_look(unit_samples, task)}"].append((rank, unit))

    wanted = min(len(members) - 1, max(1, round(fraction * len(members))))
    quotas = _largest_remainders({key: len(units) for key, units in strata.items()}, wanted)
    held: set[str] = set()
    for key, units in strata.items():
        held.update(unit for _rank, unit in sorted(units)[: quotas[key]])

    train = [s for unit, unit_samples in members.items() if unit not in held for s in unit_samples]
    val = sorted((s for unit in held for s in members[unit]), key=lambda s: s.image)
    train.sort(key=lambda s: s.line)
    how = HeldOutSplit(fraction, len(train), len(val), len(members), len(held), len(strata))
    return train, val, how


def _largest_remainders(sizes: dict[str, int], total: int) -> dict[str, int]:
    units = sum(sizes.values())
    exact = {key: total * size / units for key, size in sizes.items()}
    quotas = {key: math.floor(value) for key, value in exact.items()}
    # What is left over goes first to strata that would hold nothing out (of those that can spare
    # one), so a rare look is evaluated too; then by largest remainder. Ties are broken by the
    # stratum's name hashed, not by dict order: the same data, the same split.
    order = sorted(exact, key=lambda k: (
        quotas[k] > 0 or sizes[k] < 2, quotas[k] - exact[k], hashlib.sha256(k.encode()).hexdigest()
    ))
    for key in order[: total - sum(quotas.values())]:
        quotas[key] += 1
    return quotas


def _top_folder(image: str) -> str:
    return image.split("/", 1)[0] if "/" in image else ""


def _look(samples: Sequence[Sample], task: str) -> str:
    """What the labels say about the display: the longest text's length and kind (and box count)."""
    if task == "det":
        try:
            texts = [box["transcription"] for s in samples for box in json.loads(s.label)]
        except (ValueError, TypeError, KeyError):
            texts = []
        texts = [t for t in texts if t != DET_IGNORED_TRANSCRIPTION]
        boxes = f"{min(len(texts), 3)}boxes|"
    else:
        texts, boxes = [s.label for s in samples], ""
    text = max(texts, key=len, default="")
    return f"{boxes}{_length_band(len(text))}|{_kind(text)}"


def _length_band(length: int) -> str:
    """Lengths in bands, so a stratum holds more than a handful of images."""
    for upper in LENGTH_BANDS:
        if length <= upper:
            return f"<={upper}"
    return f">{LENGTH_BANDS[-1]}"


def _kind(text: str) -> str:
    stripped = text.strip()
    if _DIGITS.match(stripped):
        return "digits"
    if _NUMBER.match(stripped):
        return "number"
    if _LETTERS.match(stripped):
        return "letters"
    return "mixed"
