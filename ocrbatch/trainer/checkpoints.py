"""Spot-safe checkpoints: every checkpoint an engine announces reaches the run's output location whole.

A checkpoint is the set of files in the local checkpoint folder at the moment the engine announces it.
Uploads alternate between two slots, ``checkpoints/a/`` and ``checkpoints/b/``; the pointer
``checkpoints/current.json`` (files, sizes, sha256, engine info) is rewritten only after a slot is
complete. A reclaim in the middle of an upload therefore leaves the previous checkpoint intact and
pointed to, and a resumed run never mixes files of two checkpoints.

Uploads run on a background thread so training does not wait on S3; announcements that arrive while
an upload is in flight are coalesced (only the newest snapshot matters).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ocrbatch.digests import file_entry, matches_entry
from ocrbatch.errors import IntegrityError, NotFound
from ocrbatch.storage import ObjectStore

log = logging.getLogger("ocrbatch.trainer")

POINTER = "current.json"
SLOTS = ("a", "b")


class CheckpointSync:
    """Mirror of one local checkpoint folder at ``<store>/<prefix>`` (prefix ends with ``/``)."""

    def __init__(self, store: ObjectStore, prefix: str, local_dir: Path):
        self.store = store
        self.prefix = prefix
        self.local_dir = Path(local_dir)
        self.local_dir.mkdir(parents=True, exist_ok=True)
        # Snapshots wait for upload beside the checkpoint folder, inside the run's work folder: an
        # attempt killed before close() leaves nothing behind in the system's temporary folder, and
        # the next attempt clears what it left.
        self._staging_root = self.local_dir.parent / f".{self.local_dir.name}-staging"
        shutil.rmtree(self._staging_root, ignore_errors=True)
        self._staging_root.mkdir()
        self._pending: tuple[Path, dict] | None = None
        self._lock = threading.Condition()
        self._uploading = False
        self._closed = False
        self._error: BaseException | None = None
        self._pointer: dict | None = None
        self.uploaded = 0  # checkpoints that reached the store, for reports and tests
        self._thread = threading.Thread(target=self._worker, name="checkpoint-sync", daemon=True)
        self._thread.start()

    # --- resume ---------------------------------------------------------------------------------

    def current(self) -> dict | None:
        try:
            return json.loads(self.store.get_bytes(self.prefix + POINTER))
        except NotFound:
            return None

    def restore(self) -> dict | None:
        """Make the local folder hold exactly the newest complete checkpoint; returns its pointer.

        The store is the truth: whatever a killed attempt left on local disk (a kept work folder in
        local mode) may be newer than what was uploaded, or half-written, so it is cleared first.
        """
        for path in list(self.local_dir.iterdir()):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        pointer = self.current()
        if pointer is None:
            return None
        slot = pointer["slot"]
        for name, meta in pointer["files"].items():
            target = self.local_dir / name
            self.store.get_file(f"{self.prefix}{slot}/{name}", target)
            if not matches_entry(target, meta):
                raise IntegrityError(f"checkpoint file {name} in slot {slot} does not match its pointer")
        self._pointer = pointer
        return pointer

    # --- save -----------------------------------------------------------------------------------

    def announce(self, info: dict) -> None:
        """Snapshot the local folder now (a cheap local copy) and upload it in the background."""
        self.raise_if_failed()
        snapshot = Path(tempfile.mkdtemp(dir=self._staging_root))
        for path in sorted(self.local_dir.rglob("*")):
            if path.is_file() and not path.name.startswith((".tmp", "tmp")):
                target = snapshot / path.relative_to(self.local_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
        with self._lock:
            if self._pending is not None:
                shutil.rmtree(self._pending[0], ignore_errors=True)
            self._pending = (snapshot, dict(info))
            self._lock.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every announced checkpoint is uploaded. False if the timeout ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending is not None or self._uploading:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining)
        self.raise_if_failed()
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Flush and stop the upload thread. Idempotent: a second close does not wait again, which
        matters after SIGTERM, when the time left before SIGKILL was spent by the first."""
        if self._closed:
            return self._pending is None and not self._uploading
        done = self.flush(timeout)
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if done:
            shutil.rmtree(self._staging_root, ignore_errors=True)
        return done

    def raise_if_failed(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _worker(self) -> None:
        while True:
            with self._lock:
                while self._pending is None and not self._closed:
                    self._lock.wait()
                if self._pending is None:
                    return
                snapshot, info = self._pending
                self._pending = None
                self._uploading = True
            try:
                self._upload(snapshot, info)
            except BaseException as exc:  # noqa: BLE001 - surfaced to the trainer via raise_if_failed
                log.warning("checkpoint upload failed: %s", exc)
                self._error = exc
            finally:
                shutil.rmtree(snapshot, ignore_errors=True)
                with self._lock:
                    self._uploading = False
                    self._lock.notify_all()

    def _upload(self, snapshot: Path, info: dict) -> None:
        previous = self._pointer["slot"] if self._pointer else SLOTS[1]
        slot = SLOTS[0] if previous == SLOTS[1] else SLOTS[1]
        files = {}
        for path in sorted(p for p in snapshot.rglob("*") if p.is_file()):
            name = path.relative_to(snapshot).as_posix()
            files[name] = file_entry(path)
            self.store.put_file(f"{self.prefix}{slot}/{name}", path)
        # Files of an older checkpoint left in this slot are harmless: the pointer lists what counts.
        pointer = {"slot": slot, "files": files, "info": info, "saved_at": time.time()}
        self.store.put_bytes(self.prefix + POINTER, json.dumps(pointer, indent=2, sort_keys=True).encode())
        self._pointer = pointer
        self.uploaded += 1
        log.info("checkpoint uploaded to %s (%s)", self.store.uri(f"{self.prefix}{slot}/"), info)
