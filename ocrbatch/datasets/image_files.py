"""The images of a dataset folder: what validation learns about each one, and how it learns it.

An image must be a regular file inside the folder (symlinks may not lead out of it) that decodes; its
sha256 and decoded size are memoised in :mod:`ocrbatch.datasets.file_cache`, so an unchanged image
costs one ``stat`` the next time.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import NamedTuple

from ocrbatch.datasets.file_cache import FileFacts
from ocrbatch.datasets.image_check import inspect_image


class ImageFile(NamedTuple):
    path: str  # relative, posix, normalised
    size: int
    sha256: str
    width: int
    height: int
    format: str
    mtime_ns: int = 0  # when it was inspected: publishing re-reads only a file still the same


class ImageInspector:
    """Checks that images exist inside the folder and decode; memoises what it learns."""

    def __init__(self, folder: Path, facts: FileFacts):
        self.root = os.path.realpath(folder)
        self.facts = facts
        self._dirs: dict[str, bool] = {}
        # Images ocrbatch made for the dataset, kept outside the folder (crops cut from a PPOCRLabel
        # folder's boxes): relative path in the dataset -> where the file is.
        self.derived: dict[str, str] = {}
        self.known: dict[str, ImageFile] = {}  # derived images just made: facts learnt as they were written

    def _inside(self, real: str) -> bool:
        return real == self.root or real.startswith(self.root + os.sep)

    def _dir_inside(self, directory: str) -> bool:
        known = self._dirs.get(directory)
        if known is None:
            known = self._dirs[directory] = self._inside(os.path.realpath(directory))
        return known

    def inspect(self, rel: str, *, read: bool = True) -> ImageFile | str | None:
        """Facts about the image, or what is wrong with it; with ``read=False``, None when that
        takes reading the file (it is not memoised)."""
        if rel in self.known:
            return self.known[rel]
        derived = self.derived.get(rel)
        full = derived or os.path.join(self.root, rel)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            return f"image not found: {rel} (paths are relative to the dataset folder)"
        except OSError as err:
            return f"cannot read image {rel}: {err.strerror}"
        if not derived and not self._dir_inside(os.path.dirname(full)):
            return f"image {rel} is reached through a symlink that leaves the dataset folder"
        if stat.S_ISLNK(st.st_mode):
            if not self._inside(os.path.realpath(full)):
                return f"image {rel} is a symlink that leaves the dataset folder"
            try:
                st = os.stat(full)
            except OSError:
                return f"image {rel} is a broken symlink"
        if not stat.S_ISREG(st.st_mode):
            return f"image {rel} is not a regular file"
        if st.st_size == 0:
            return f"image {rel} is empty (0 bytes)"
        known = self.facts.lookup(rel, st.st_size, st.st_mtime_ns)
        if known:
            return ImageFile(rel, st.st_size, known[2], known[3], known[4], known[5], st.st_mtime_ns)
        if not read:
            return None
        try:
            with open(full, "rb") as handle:
                data = handle.read()
        except OSError as err:
            return f"cannot read image {rel}: {err.strerror}"
        decoded = inspect_image(data)
        if isinstance(decoded, str):
            return f"image {rel} {decoded}"
        width, height, fmt = decoded
        sha = hashlib.sha256(data).hexdigest()
        self.facts.remember(rel, len(data), st.st_mtime_ns, sha, width, height, fmt)
        return ImageFile(rel, len(data), sha, width, height, fmt, st.st_mtime_ns)
