"""Fetching a dataset version to local disk in PaddleOCR's layout, verified file by file.

The result is ``dest/train.txt``, ``dest/val.txt`` and every image at the relative path the label
files name, which is what PaddleOCR's ``SimpleDataSet`` reads (``data_dir`` = ``dest``). Every file
is checked against the sha256 and size in the version's index before it is written, so a corrupt or
truncated shard raises :class:`~ocrbatch.errors.IntegrityError` and nothing wrong lands in ``dest``.

Fetching is idempotent: ``dest/.ocrbatch-dataset.json`` records what was written and verified (with
each file's size and mtime), and a later fetch, of the same version or a newer one, downloads only the
shards that hold files ``dest`` lacks. That record is written last, so an interrupted fetch is simply
resumed (files it cannot vouch for are re-hashed, not trusted).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import posixpath
import shutil
import tempfile
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from ocrbatch.datasets.manifest import decode_index, shard_key, version_key
from ocrbatch.datasets.versions import resolve_manifest
from ocrbatch.digests import sha256_file
from ocrbatch.errors import IntegrityError
from ocrbatch.layout import DATASETS_PREFIX
from ocrbatch.datasets.local_dataset import LocalDataset
from ocrbatch.storage import LocalStore, ObjectStore

MARKER_NAME = ".ocrbatch-dataset.json"
PARTIAL_PREFIX = ".ocrbatch-partial-"
DOWNLOAD_WORKERS = 4

Progress = Callable[[str, int, int], None]  # (stage, done, total); stage: downloading (bytes)


def fetch_dataset(store: ObjectStore, version_key_or_ref: str, dest: Path, progress: Progress | None = None) -> LocalDataset:
    """Download and verify a dataset version into ``dest``; see the module docstring.

    ``version_key_or_ref`` is whatever :func:`~ocrbatch.datasets.resolve_version` accepts: a key
    (``datasets/<name>/versions/<id>``), a URI in ``store``, ``name@id`` or ``name``. A local store
    opened at the version folder itself (``storage.store_at(file_uri)`` does that) works with "".
    """
    store, ref = _store_root(store, version_key_or_ref)
    manifest = resolve_manifest(store, ref)
    name = manifest["name"]
    index = decode_index(store.get_bytes(manifest["index"]["key"]), manifest)
    wanted = {path: tuple(entry) for path, entry in index.items()}
    for entry in manifest["labels"].values():
        wanted[entry["path"]] = (entry["sha256"], entry["size"], entry["shard"], entry["offset"])
    for path in wanted:
        if path.startswith("/") or posixpath.normpath(path) != path or path.startswith("../") or path == MARKER_NAME:
            raise IntegrityError(f"dataset {name}@{manifest['version_id']} names an unsafe path {path!r}")

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    previous = _read_marker(dest)
    verified: dict[str, list] = {}
    missing: dict[str, list[tuple[str, str, int, int]]] = defaultdict(list)
    for path, (sha, size, shard, offset) in wanted.items():
        full = os.path.join(dest, path)
        try:
            st = os.stat(full)
        except OSError:
            missing[shard].append((path, sha, size, offset))
            continue
        record = [sha, size, st.st_mtime_ns]
        if previous.get(path) == record and st.st_size == size:
            verified[path] = record
        elif st.st_size == size and sha256_file(full) == sha:
            verified[path] = record
        else:
            missing[shard].append((path, sha, size, offset))

    if missing:
        total = sum(manifest["shards"][shard] for shard in missing)
        done = 0
        partial = Path(tempfile.mkdtemp(prefix=PARTIAL_PREFIX, dir=dest))
        made_dirs: set[str] = set()

        def fetch_shard(shard: str) -> dict[str, list]:
            local = partial / f"{shard}.tar"
            key = shard_key(name, shard)
            store.get_file(key, local)
            try:
                expected = manifest["shards"][shard]
                if local.stat().st_size != expected:
                    raise IntegrityError(
                        f"shard {store.uri(key)} is {local.stat().st_size} bytes, the manifest says {expected}: "
                        "truncated or corrupt"
                    )
                return _extract(local, missing[shard], dest, made_dirs, store.uri(key))
            finally:
                local.unlink(missing_ok=True)

        try:
            with ThreadPoolExecutor(max_workers=min(DOWNLOAD_WORKERS, len(missing))) as pool:
                futures = {pool.submit(fetch_shard, shard): shard for shard in missing}
                try:
                    for future in futures:
                        verified.update(future.result())
                        done += manifest["shards"][futures[future]]
                        if progress:
                            progress("downloading", done, total)
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)

    for path in set(previous) - set(wanted):  # files of the version fetched here before
        Path(dest, path).unlink(missing_ok=True)
    _write_marker(dest, manifest, store.uri(version_key(name, manifest["version_id"])), verified)
    return LocalDataset(
        root=dest,
        task=manifest["task"],
        train_labels=dest / manifest["labels"]["train"]["path"],
        val_labels=dest / manifest["labels"]["val"]["path"],
        characters=tuple(manifest["characters"]),
        version=store.uri(version_key(name, manifest["version_id"])),
    )


def _extract(shard: Path, members, dest: Path, made_dirs: set[str], shard_uri: str) -> dict[str, list]:
    written = {}
    with open(shard, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        for path, sha, size, offset in members:
            data = view[offset : offset + size]
            if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
                raise IntegrityError(f"shard {shard_uri} is corrupt: {path} does not match its sha256")
            target = os.path.join(dest, path)
            parent = os.path.dirname(target)
            if parent not in made_dirs:
                os.makedirs(parent, exist_ok=True)
                made_dirs.add(parent)
            with open(target, "wb") as out:
                out.write(data)
            written[path] = [sha, size, os.stat(target).st_mtime_ns]
    return written


def _read_marker(dest: Path) -> dict[str, list]:
    try:
        files = json.loads((dest / MARKER_NAME).read_bytes()).get("files", {})
        return files if isinstance(files, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def _write_marker(dest: Path, manifest: dict, uri: str, files: dict[str, list]) -> None:
    record = {"format": 1, "name": manifest["name"], "version_id": manifest["version_id"], "uri": uri, "files": files}
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=".tmp-")
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(record, separators=(",", ":")))  # dumps: the C encoder
    os.replace(tmp, dest / MARKER_NAME)


def _store_root(store: ObjectStore, ref: str) -> tuple[ObjectStore, str]:
    """A local store opened at ``.../datasets/<name>/versions/<id>`` is re-rooted at its store root."""
    if ref.strip("/") or not isinstance(store, LocalStore):
        return store, ref
    parts = store.root.parts
    if len(parts) >= 4 and parts[-4] == DATASETS_PREFIX.rstrip("/") and parts[-2] == "versions":
        return LocalStore(Path(*parts[:-4])), "/".join(parts[-4:])
    return store, ref
