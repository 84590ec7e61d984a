"""Scratch space that is reclaimed, and the lock that keeps two fetches out of one folder.

* Scratch folders (``$TMPDIR/ocrbatch-staging-*``) hold a shard while an upload packs and sends it,
  or while ``datasets --verify`` checks it. Each holds a lock for as long as its process lives; the
  next one removes every such folder whose lock is free, i.e. whose process was killed (Ctrl-C
  removes its own at once). Older versions' ``ocrbatch-upload-*`` folders are reclaimed too.
* A fetch into ``DEST`` builds ``.DEST.ocrbatch-partial-*`` beside it and swaps it in only when
  every byte is verified, under ``.DEST.ocrbatch-lock`` (``flock``; removed when the fetch ends), so
  two fetches into one folder take turns and never mix. The swap is two renames (DEST aside, the new tree in, the old tree
  removed); if a process dies between them, the next fetch puts the old DEST back first, so a failed
  fetch always leaves DEST as it was.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from ocrbatch.datasets.transport import writing

LOCK_NAME = ".ocrbatch-lock"
SCRATCH_PREFIX = "ocrbatch-staging-"
LEGACY_PREFIXES = ("ocrbatch-upload-",)  # what ocrbatch before the locks left behind
# A staging folder without a lock file predates locks (or is a split second old): removed once
# nothing can still be writing it.
UNLOCKED_STALE_S = 3600


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A fresh private folder for shards in transit, removed afterwards (and by a later command if
    this process is killed)."""
    parent = Path(tempfile.gettempdir())
    reclaim_scratch(parent)
    # Locked under a name no reclaim looks at, then renamed: never seen unlocked by another process.
    hidden = Path(tempfile.mkdtemp(prefix="." + SCRATCH_PREFIX, dir=parent))
    fd = os.open(hidden / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    folder = parent / hidden.name[1:]
    try:
        os.rename(hidden, folder)
        yield folder
    finally:
        for path in (folder, hidden):
            shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def reclaim_scratch(parent: Path) -> list[Path]:
    """Remove the scratch folders under ``parent`` that no live process holds."""
    removed = []
    folders = [f for prefix in (SCRATCH_PREFIX, *LEGACY_PREFIXES) for f in parent.glob(prefix + "*")]
    for folder in folders:
        try:
            fd = os.open(folder / LOCK_NAME, os.O_RDWR)
        except FileNotFoundError:
            try:
                stale = time.time() - folder.stat().st_mtime > UNLOCKED_STALE_S
            except OSError:
                continue
            if stale and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
            continue
        except OSError:
            continue  # someone else's, or not a folder
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live process is using it
        try:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            os.close(fd)
    return removed


def _beside(dest: Path, what: str) -> str:
    return f".{dest.name}.ocrbatch-{what}"


@contextmanager
def exclusive(dest: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold ``dest``'s lock (waiting for another fetch into it to finish, after calling ``on_wait``),
    with an interrupted swap undone and the leftovers of killed fetches removed. The lock file is
    removed on the way out, so nothing is left beside ``dest``."""
    lock_path = dest.parent / _beside(dest, "lock")
    with writing(dest.parent):
        dest.parent.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        with writing(dest.parent):
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait and not waited:
                on_wait()
            waited = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        # The previous holder removes the file as it leaves: a lock on that removed file guards
        # nothing, so open the path again.
        try:
            if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        _recover(dest)
        yield
    finally:
        try:
            os.unlink(lock_path)
        except OSError:
            pass
        os.close(fd)


def _recover(dest: Path) -> None:
    olds = sorted(dest.parent.glob(_beside(dest, "old-*")))
    if olds and not os.path.lexists(dest):
        os.rename(olds.pop(), dest)  # died between the two renames: the old tree goes back
    for leftover in [*olds, *dest.parent.glob(_beside(dest, "partial-*"))]:
        shutil.rmtree(leftover, ignore_errors=True)


@contextmanager
def partial_tree(dest: Path) -> Iterator[Path]:
    """A new folder beside ``dest`` to build the fetch in; removed unless :func:`swap_in` took it."""
    with writing(dest.parent):
        partial = Path(tempfile.mkdtemp(prefix=_beside(dest, "partial-"), dir=dest.parent))
    try:
        yield partial
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)


def swap_in(partial: Path, dest: Path) -> None:
    """Put the verified tree ``partial`` at ``dest``; the old ``dest`` (if any) is removed."""
    with writing(dest):
        if not os.path.lexists(dest):
            os.rename(partial, dest)
            return
        old = dest.parent / (_beside(dest, "old-") + secrets.token_hex(6))
        os.rename(dest, old)
        os.rename(partial, dest)
    shutil.rmtree(old, ignore_errors=True)
