"""Checking published versions in the store byte by byte: what ``ocrbatch datasets --verify`` runs.

Each version is checked from its id down (``manifest`` says how): the manifest against the id, every
index and label chunk against its name and the content the id commits to, and every shard, read in
full, against the sha256 it is named after (a shard several versions share is read once). Nothing is
changed in the store; a damaged version is repaired by uploading its folder again (``--repair`` also
re-sends objects that are present but wrong, which only reading them back can tell).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from ocrbatch.datasets.manifest import iter_index, load_chunk, read_manifest
from ocrbatch.datasets.staging import scratch_folder
from ocrbatch.datasets.transport import naming
from ocrbatch.datasets.catalog import scan_versions
from ocrbatch.digests import sha256_file
from ocrbatch.errors import IntegrityError, NotFound
from ocrbatch.layout import DatasetLayout
from ocrbatch.storage import ObjectStore

Progress = Callable[[str, int, int], None]  # (stage, done, total); stage: verifying (versions)


@dataclass
class VersionCheck:
    name: str
    version_id: str
    uri: str
    problems: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version_id}"

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"ref": self.ref, "name": self.name, "version_id": self.version_id, "uri": self.uri,
                "ok": self.ok, "problems": list(self.problems)}


def verify_versions(store: ObjectStore, name: str | None = None, progress: Progress | None = None) -> list[VersionCheck]:
    """One check per version (of ``name``, or of all datasets), damaged ones first."""
    versions, damaged = scan_versions(store, name)
    checks = [VersionCheck(d.name, d.version_id, d.uri, [d.problem]) for d in damaged]
    shard_verdicts: dict[str, str | None] = {}
    with scratch_folder() as scratch:
        for done, version in enumerate(versions):
            check = VersionCheck(version.name, version.version_id, version.uri)
            try:
                _check_version(store, read_manifest(store, version.name, version.version_id), check, shard_verdicts, scratch)
            except IntegrityError as err:  # the manifest changed since it was listed
                check.problems.append(str(err))
            checks.append(check)
            if progress:
                progress("verifying", done + 1, len(versions))
    return sorted(checks, key=lambda c: (c.ok, c.name, c.version_id))


def _check_version(store, manifest: dict, check: VersionCheck, shard_verdicts: dict, scratch) -> None:
    try:
        listed = manifest["shards"]
        for _path, _sha, _size, shard, _offset in iter_index(store, manifest):
            if shard not in listed:
                raise IntegrityError(f"the file index of {check.ref} names shard {shard}, which the version does not list")
    except IntegrityError as err:
        check.problems.append(str(err))
    for split, chunks in manifest["labels"].items():
        expected = manifest["content"]["labels"][split]
        try:
            data = b"".join(load_chunk(store, manifest, chunk) for chunk in chunks)
            if hashlib.sha256(data).hexdigest() != expected["sha256"]:
                check.problems.append(f"the {split} labels of {check.ref} do not match the version id")
        except IntegrityError as err:
            check.problems.append(str(err))
    layout = DatasetLayout(manifest["name"])
    for shard, size in sorted(manifest["shards"].items()):
        key = layout.shard(shard)
        if key not in shard_verdicts:
            shard_verdicts[key] = _check_shard(store, key, shard, size, scratch)
        if shard_verdicts[key]:
            check.problems.append(shard_verdicts[key])


def damaged_objects(store: ObjectStore, manifest: dict) -> set[str]:
    """Keys of the version's chunks and shards whose stored bytes do not match their names (read
    back in full): what ``upload --repair`` sends again."""
    layout = DatasetLayout(manifest["name"])
    damaged = set()
    chunks = [*manifest["index"], *(c for split in manifest["labels"].values() for c in split)]
    for entry in chunks:
        try:
            load_chunk(store, manifest, entry)
        except IntegrityError:
            damaged.add(layout.chunk(entry[0]))
    with scratch_folder() as scratch:
        for shard, size in manifest["shards"].items():
            if _check_shard(store, layout.shard(shard), shard, size, scratch):
                damaged.add(layout.shard(shard))
    return damaged


def _check_shard(store, key: str, sha256: str, size: int, scratch) -> str | None:
    local = scratch / f"{sha256}.tar"
    try:
        with naming(store, key, "download", local_path=local):
            store.get_file(key, local)
    except NotFound:
        return f"shard {store.uri(key)} is missing"
    try:
        if local.stat().st_size != size:
            return f"shard {store.uri(key)} is {local.stat().st_size} bytes, the manifest says {size}"
        if sha256_file(local) != sha256:
            return f"shard {store.uri(key)} is corrupt (it does not match its sha256)"
        return None
    finally:
        local.unlink(missing_ok=True)
