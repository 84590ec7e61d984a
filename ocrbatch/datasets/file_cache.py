"""A local memo of what is already known about a dataset folder's images.

Hashing and decoding every image again on each upload is what would make re-uploading an unchanged
folder slow, so the facts found once (sha256, decoded size, format) are kept per file and trusted
while the file's size and mtime_ns are unchanged, the same bargain ``make``, ``rsync`` and ``git``
strike. One JSON file per dataset folder under ``$OCRBATCH_CACHE_DIR`` (default
``$XDG_CACHE_HOME/ocrbatch`` or ``~/.cache/ocrbatch``). The cache is only an optimisation: a
missing, corrupt or unwritable cache costs time, never correctness.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

# A file modified this recently may be modified again within the same mtime tick without its
# stamp changing, so it is not memoised yet (git calls such entries "racily clean").
RACY_SECONDS = 2.0


def cache_dir() -> Path:
    explicit = os.environ.get("OCRBATCH_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "ocrbatch"


class FileFacts:
    """``relative path -> [size, mtime_ns, sha256, width, height, format]`` for one folder."""

    def __init__(self, folder: Path):
        digest = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:20]
        self.path = cache_dir() / "files" / f"{digest}.json"
        self.entries: dict[str, list] = {}
        self.changed = False
        try:
            loaded = json.loads(self.path.read_bytes())
            if isinstance(loaded, dict):
                self.entries = loaded
        except (OSError, ValueError):
            pass

    def lookup(self, rel: str, size: int, mtime_ns: int) -> list | None:
        entry = self.entries.get(rel)
        if entry and len(entry) == 6 and entry[0] == size and entry[1] == mtime_ns:
            return entry
        return None

    def remember(self, rel: str, size: int, mtime_ns: int, sha256: str, width: int, height: int, fmt: str):
        if time.time_ns() - mtime_ns < RACY_SECONDS * 1e9:
            return
        self.entries[rel] = [size, mtime_ns, sha256, width, height, fmt]
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(self.entries, separators=(",", ":")))  # dumps: the C encoder
            os.replace(tmp, self.path)
            self.changed = False
        except OSError:
            if tmp:
                Path(tmp).unlink(missing_ok=True)  # a read-only home only costs rehashing next time
