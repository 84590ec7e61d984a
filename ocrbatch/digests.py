"""Content digests: one way to hash a file, shared by datasets, checkpoints and model artifacts, and one
manifest entry per file (size and sha256) for the folders that checkpoints and artifacts describe."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 20


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


# --- manifests: what a folder held, file by file (model artifacts and checkpoints) --------------


def file_entry(path: Path) -> dict:
    """A file's manifest entry: ``{"size": ..., "sha256": ...}``."""
    return {"size": Path(path).stat().st_size, "sha256": sha256_file(path)}


def folder_entries(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, dict]:
    """Every file under ``folder`` by its relative POSIX path, sorted, with its entry."""
    folder = Path(folder)
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if name not in skip:
            files[name] = file_entry(path)
    return files


def matches_entry(path: Path, entry: dict) -> bool:
    """Does the file have the entry's size and sha256 (the size first: it costs no read)?"""
    path = Path(path)
    return path.stat().st_size == entry["size"] and sha256_file(path) == entry["sha256"]
