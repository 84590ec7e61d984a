"""Store and disk calls of the dataset layer: failures name the object or path and say what to do,
and reads of many small objects overlap while keeping their order."""

from __future__ import annotations

import errno
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

from ocrbatch.errors import OcrbatchError, StoreError

Item = TypeVar("Item")
Result = TypeVar("Result")

DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def _reason(err: BaseException) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response["Error"]
        return f"{error.get('Code')}: {error.get('Message')}".rstrip(": ")
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


def _passes_through(err: BaseException) -> bool:
    """Credential and configuration errors already have their own one-line message in the CLI."""
    return type(err).__name__ in ("NoCredentialsError", "NoRegionError", "ProfileNotFound", "PartialCredentialsError")


@contextmanager
def naming(store, key: str, doing: str, local_path=None):
    """Re-raise a failure of ``doing`` (``download``, ``upload``, ``read``) object ``key`` as one
    :class:`StoreError` line naming it; a full or read-only local disk names ``local_path``."""
    try:
        yield
    except OcrbatchError:
        raise
    except Exception as err:  # noqa: BLE001 - transports raise many types; all mean the same to a user
        if _passes_through(err):
            raise
        if isinstance(err, OSError) and err.errno in DISK_ERRNOS and local_path is not None:
            raise disk_error(err, local_path) from err
        raise StoreError(
            f"could not {doing} {store.uri(key)}: {_reason(err)}; check the network and credentials, "
            "then run the command again"
        ) from err


def disk_error(err: OSError, path) -> StoreError:
    what = {
        errno.ENOSPC: "free some space or choose a folder on another disk",
        errno.EDQUOT: "free some space or choose a folder on another disk",
        errno.EROFS: "choose a writable folder",
    }.get(err.errno, "check its permissions or choose another folder")
    # A copy's error names its source first and its destination second: the destination is the one at fault.
    return StoreError(f"cannot write {err.filename2 or err.filename or path}: {_reason(err)}; {what}")


@contextmanager
def writing(path):
    """Local-disk failures under ``path`` as one line that says what to do."""
    try:
        yield
    except OSError as err:
        if isinstance(err, (FileNotFoundError, IsADirectoryError, NotADirectoryError)) and err.errno not in DISK_ERRNOS:
            raise
        raise disk_error(err, path) from err


def ordered_map(fn: Callable[[Item], Result], items: Iterable[Item], *, workers: int = 8) -> Iterator[Result]:
    """``map(fn, items)`` on ``workers`` threads, yielding results in order and holding at most
    ``2 * workers`` of them at a time (an index of a million files streams, it is not held)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        window: deque = deque()
        try:
            for item in items:
                window.append(pool.submit(fn, item))
                if len(window) >= 2 * workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()


class ByteTally:
    """A running total of bytes moved by transfers that run at once, told to ``report`` as it grows.

    The store calls back from its transfer threads, so adding and reporting happen under one lock (the
    CLI's progress bar is not thread-safe). ``counter(scale)`` counts an object's bytes in another
    unit: a shard's tar bytes as the image bytes it carries, so the total is known before packing.
    """

    def __init__(self, report: Callable[[int], None] | None):
        self._report = report
        self._lock = threading.Lock()
        self._done = 0.0

    def add(self, amount: float) -> None:
        if self._report is None:
            return
        with self._lock:
            self._done += amount
            self._report(int(self._done))

    def counter(self, scale: float = 1.0) -> Callable[[int], None] | None:
        return None if self._report is None else (lambda moved: self.add(moved * scale))
