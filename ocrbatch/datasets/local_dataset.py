"""What a fetched dataset version is on local disk: the trainer's engines read it, ``fetch`` makes it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalDataset:
    """A dataset version fetched to local disk in PaddleOCR's layout (written by ``fetch_dataset``)."""

    root: Path  # image paths in the label files are relative to this folder
    task: str  # "rec" or "det"
    train_labels: Path  # e.g. root/train.txt: "<relative image path>\t<label>"
    val_labels: Path  # e.g. root/val.txt
    characters: tuple[str, ...]  # every character in the labels, sorted, no duplicates
    version: str  # dataset version URI, recorded in the artifact
