"""Fetching a dataset version to local disk in PaddleOCR's layout: all or nothing, every byte verified.

The result is ``dest/train.txt``, ``dest/val.txt`` and every image at the relative path the label
files name, which is what PaddleOCR's ``SimpleDataSet`` reads (``data_dir`` = ``dest``).

* The copy is built beside ``dest`` and moved in only once every index chunk, label file, shard
  and image has matched the digests the version id commits to (see ``manifest``); a fetch that
  fails or is interrupted leaves ``dest`` as it was (``staging``).
* Two fetches into one ``dest`` take turns (a lock beside it), so ``dest`` never mixes versions.
* ``dest/.ocrbatch-dataset.json`` records what was written and verified (each file's sha256, size
  and mtime). A later fetch into the same folder, of the same version or another, keeps the files
  it can vouch for (hard links into the new tree, no copy) and downloads only the shards holding
  the rest. Files someone else added to ``dest`` are carried over too; a non-empty folder that no
  fetch wrote is refused rather than replaced.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import mmap
import os
import posixpath
import shutil
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from ocrbatch.datasets.local_dataset import LocalDataset
from ocrbatch.datasets.manifest import REPAIR_HINT, iter_index, load_chunk
from ocrbatch.datasets.staging import exclusive, partial_tree, swap_in
from ocrbatch.datasets.transport import ByteTally, naming, writing
from ocrbatch.datasets.catalog import resolve_manifest
from ocrbatch.digests import sha256_file
from ocrbatch.errors import BadInput, IntegrityError, NotFound
from ocrbatch.layout import DatasetLayout, parse_dataset_version
from ocrbatch.storage import LocalStore, ObjectStore

MARKER_NAME = ".ocrbatch-dataset.json"
RESERVED_PREFIX = ".ocrbatch"  # names no dataset file may take: the marker, shard downloads
SHARDS_DIR = ".ocrbatch-shards"
DOWNLOAD_WORKERS = 4

Progress = Callable[[str, int, int], None]  # (stage, done, total); stage: downloading (bytes)


def fetch_dataset(
    store: ObjectStore,
    version_key_or_ref: str,
    dest: Path,
    progress: Progress | None = None,
    on_wait: Callable[[], None] | None = None,
) -> LocalDataset:
    """Download and verify a dataset version into ``dest``; see the module docstring.

    ``version_key_or_ref`` is whatever :func:`~ocrbatch.datasets.resolve_version` accepts: a key
    (``datasets/<name>/versions/<id>``), a URI in ``store``, ``name@id`` or ``name``. A local store
    opened at the version folder itself (``storage.store_at(file_uri)`` does that) works with "".
    ``on_wait`` is called when another fetch into ``dest`` holds it (this one then waits its turn).
    """
    store, ref = _store_root(store, version_key_or_ref)
    manifest = resolve_manifest(store, ref)
    dest = Path(dest).absolute()
    uri = store.uri(DatasetLayout(manifest["name"]).version(manifest["version_id"]))
    with exclusive(dest, on_wait):
        previous = _previous_fetch(dest)
        if _unchanged(store, manifest, dest, previous):
            return _local_dataset(manifest, dest, uri)
        with partial_tree(dest) as partial:
            build = _Build(store, manifest, partial, dest, previous, progress)
            build.run()
            _write_marker(partial, manifest, uri, build.records)
            swap_in(partial, dest)
    return _local_dataset(manifest, dest, uri)


def _local_dataset(manifest: dict, dest: Path, uri: str) -> LocalDataset:
    labels = manifest["content"]["labels"]
    return LocalDataset(
        root=dest,
        task=manifest["content"]["task"],
        train_labels=dest / labels["train"]["path"],
        val_labels=dest / labels["val"]["path"],
        characters=tuple(manifest["content"]["characters"]),
        version=uri,
    )


class _Build:
    """One fetch's work: fill ``partial`` with the version, verifying everything on the way."""

    def __init__(self, store, manifest: dict, partial: Path, dest: Path, previous: dict, progress):
        self.store = store
        self.manifest = manifest
        self.layout = DatasetLayout(manifest["name"])
        self.ref = f"{manifest['name']}@{manifest['version_id']}"
        self.partial = partial
        self.dest = dest
        self.previous = previous
        self.progress = progress
        self.made_dirs: set[str] = set()
        self.records: dict[str, list] = {}  # path -> [sha256, size, mtime_ns], for the marker

    def run(self) -> None:
        missing = self._place_known_files()
        self._write_labels()
        self._fetch_shards(missing)
        self._carry_over_foreign_files()

    # -- the index: which files are needed, and which dest already has ----------------------

    def _place_known_files(self) -> dict[str, list[tuple[str, str, int, int]]]:
        shards = self.manifest["shards"]
        missing: dict[str, list[tuple[str, str, int, int]]] = defaultdict(list)
        for path, sha, size, shard, offset in iter_index(self.store, self.manifest):
            self._check_path(path)
            if shard not in shards:
                raise IntegrityError(f"the file index of {self.ref} names shard {shard}, which the version does not list; {REPAIR_HINT}")
            if not self._keep(path, sha, size):
                missing[shard].append((path, sha, size, offset))
        return missing

    def _check_path(self, path: str) -> None:
        if (
            not path
            or path.startswith("/")
            or posixpath.normpath(path) != path
            or path.startswith("../")
            or path.split("/", 1)[0].startswith(RESERVED_PREFIX)
        ):
            raise IntegrityError(f"dataset {self.ref} names an unsafe path {path!r}")

    def _keep(self, path: str, sha: str, size: int) -> bool:
        """Link ``dest/path`` into the new tree if it verifiably holds this content."""
        if not self.previous:
            return False
        source = os.path.join(self.dest, path)
        try:
            st = os.stat(source)
        except OSError:
            return False
        record = [sha, size, st.st_mtime_ns]
        if st.st_size != size or (self.previous.get(path) != record and sha256_file(source) != sha):
            return False
        target = self._target(path)
        with writing(self.partial):
            try:
                os.link(source, target)  # the same inode: the same mtime
            except OSError:
                shutil.copy2(source, target)
                record[2] = os.stat(target).st_mtime_ns
        self.records[path] = record
        return True

    def _target(self, path: str) -> str:
        target = os.path.join(self.partial, path)
        parent = os.path.dirname(target)
        if parent not in self.made_dirs:
            with writing(self.partial):
                os.makedirs(parent, exist_ok=True)
            self.made_dirs.add(parent)
        return target

    # -- labels and shards ------------------------------------------------------------------

    def _write_labels(self) -> None:
        for split, entry in self.manifest["content"]["labels"].items():
            self._check_path(entry["path"])
            data = b"".join(load_chunk(self.store, self.manifest, chunk) for chunk in self.manifest["labels"][split])
            if len(data) != entry["size"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                raise IntegrityError(f"the {split} labels of {self.ref} do not match the version id; {REPAIR_HINT}")
            target = self._target(entry["path"])
            with writing(self.partial), open(target, "wb") as out:
                out.write(data)
            self.records[entry["path"]] = [entry["sha256"], entry["size"], os.stat(target).st_mtime_ns]

    def _fetch_shards(self, missing: dict[str, list[tuple[str, str, int, int]]]) -> None:
        if not missing:
            return
        shards = self.manifest["shards"]
        total = sum(shards[shard] for shard in missing)
        moved = ByteTally((lambda done: self.progress("downloading", done, total)) if self.progress else None).counter()
        downloads = self.partial / SHARDS_DIR
        with writing(self.partial):
            downloads.mkdir()
        with ThreadPoolExecutor(max_workers=min(DOWNLOAD_WORKERS, len(missing))) as pool:
            futures = {pool.submit(self._fetch_shard, shard, members, downloads, moved): shard for shard, members in missing.items()}
            try:
                for future in futures:
                    self.records.update(future.result())
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        shutil.rmtree(downloads, ignore_errors=True)

    def _fetch_shard(self, shard: str, members, downloads: Path, moved=None) -> dict[str, list]:
        key = self.layout.shard(shard)
        uri = self.store.uri(key)
        local = downloads / f"{shard}.tar"
        try:
            with naming(self.store, key, "download", local_path=local):
                self.store.get_file(key, local, progress=moved)
        except NotFound:
            raise IntegrityError(f"shard {uri} of {self.ref} is missing from the store; {REPAIR_HINT}") from None
        try:
            size = local.stat().st_size
            expected = self.manifest["shards"][shard]
            if size != expected:
                raise IntegrityError(f"shard {uri} is {size} bytes, the manifest says {expected}: truncated or corrupt; {REPAIR_HINT}")
            if sha256_file(local) != shard:
                raise IntegrityError(f"shard {uri} is corrupt (it does not match its sha256); {REPAIR_HINT}")
            return self._extract(local, members, uri)
        finally:
            local.unlink(missing_ok=True)

    def _extract(self, shard: Path, members, uri: str) -> dict[str, list]:
        written = {}
        with open(shard, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            for path, sha, size, offset in members:
                data = view[offset : offset + size]
                if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
                    raise IntegrityError(f"shard {uri} is corrupt: {path} does not match its sha256; {REPAIR_HINT}")
                target = self._target(path)
                with writing(self.partial), open(target, "wb") as out:
                    out.write(data)
                written[path] = [sha, size, os.stat(target).st_mtime_ns]
        return written

    def _carry_over_foreign_files(self) -> None:
        """Files in ``dest`` that no fetch wrote (someone put them there) go into the new tree too."""
        if not self.previous:
            return
        root = str(self.dest)
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath == root:  # our own leftovers (older fetches staged inside DEST)
                dirnames[:] = [d for d in dirnames if not d.startswith(RESERVED_PREFIX)]
            for name in filenames:
                full = os.path.join(dirpath, name)
                rel = full[len(root) + 1 :].replace(os.sep, "/")
                if rel == MARKER_NAME or rel in self.previous or rel in self.records:
                    continue
                target = self._target(rel)
                if os.path.lexists(target):
                    continue
                with writing(self.partial):
                    try:
                        os.link(full, target, follow_symlinks=False)
                    except OSError:
                        shutil.copy2(full, target, follow_symlinks=False)


def _unchanged(store, manifest: dict, dest: Path, previous: dict[str, list]) -> bool:
    """Does ``dest`` already hold exactly this version, as its record says and every file's size and
    mtime confirm? Then there is nothing to build (the index is still read and checked)."""
    if not previous:
        return False
    expected = [(entry["path"], entry["sha256"], entry["size"]) for entry in manifest["content"]["labels"].values()]
    for path, sha, size, *_ in itertools.chain(expected, iter_index(store, manifest)):
        record = previous.get(path)
        if record is None or record[0] != sha or record[1] != size:
            return False
        try:
            st = os.stat(os.path.join(dest, path))
        except OSError:
            return False
        if st.st_size != size or st.st_mtime_ns != record[2]:
            return False
    return len(previous) == manifest["content"]["files"] + len(expected)


def _previous_fetch(dest: Path) -> dict[str, list]:
    """What an earlier fetch wrote into ``dest`` (path -> [sha256, size, mtime_ns]); {} for a
    missing or empty folder. Anything else is refused: replacing it would lose someone's files."""
    if not os.path.lexists(dest):
        return {}
    if not dest.is_dir():
        raise BadInput(f"{dest} exists and is not a folder: fetch into a new or empty folder")
    try:
        files = json.loads((dest / MARKER_NAME).read_bytes()).get("files", {})
        if isinstance(files, dict):
            return files
    except (OSError, ValueError, AttributeError):
        pass
    if any(os.scandir(dest)):
        raise BadInput(f"{dest} is not empty and was not written by `ocrbatch fetch`: fetch into a new or empty folder")
    return {}


def _write_marker(folder: Path, manifest: dict, uri: str, files: dict[str, list]) -> None:
    record = {"format": 1, "name": manifest["name"], "version_id": manifest["version_id"], "uri": uri, "files": files}
    with writing(folder), open(folder / MARKER_NAME, "w") as out:
        out.write(json.dumps(record, separators=(",", ":")))  # dumps: the C encoder


def _store_root(store: ObjectStore, ref: str) -> tuple[ObjectStore, str]:
    """A local store opened at ``.../datasets/<name>/versions/<id>`` is re-rooted at its store root."""
    if ref.strip("/") or not isinstance(store, LocalStore):
        return store, ref
    parsed = parse_dataset_version(store.root.as_posix())
    if parsed is None:
        return store, ref
    return LocalStore(store.root.parents[3]), DatasetLayout(parsed[0]).version(parsed[1])
