"""Publishing dataset versions, and finding them again (list, resolve).

Publishing a validated folder:
1. compute the content-derived version id; if that version's manifest exists, stop: nothing is sent;
2. find the files the store already holds, in shards that the newest version of the same name points
   to (a small change therefore sends only the changed files and the label files);
3. pack the rest, sorted by path, into deterministic shards (``packing``) and upload each shard that
   is not already there, two at a time, so packing one overlaps sending another;
4. write the file index, then the manifest, LAST: until then no version is visible, so an
   interrupted upload leaves only shards, which the rerun finds by name and does not send again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from ocrbatch.datasets.manifest import (
    FORMAT,
    KIND,
    MANIFEST_KEY_PATTERN,
    DatasetVersion,
    check_name,
    compute_version_id,
    decode_index,
    encode_index,
    index_key,
    manifest_key,
    read_manifest,
    shard_key,
    shards_prefix,
)
from ocrbatch.datasets.packing import ShardWriter, plan_shards, shard_target
from ocrbatch.datasets.validation import (
    FETCHED_LABEL_NAMES,
    ImageFile,
    InvalidDataset,
    ValidationReport,
    validate_dataset,
)
from ocrbatch.errors import BadInput, IntegrityError, NotFound
from ocrbatch.layout import DATASETS_PREFIX, dataset_prefix
from ocrbatch.storage import ObjectStore

Progress = Callable[[str, int, int], None]  # (stage, done, total); stages: validating, uploading
LABELS_MEMBER_DIR = ".ocrbatch-labels/"  # where label files sit inside shards


def render_labels(report: ValidationReport) -> dict[str, bytes]:
    """The label files as the version stores them: good lines only, normalised paths, LF endings."""
    return {
        split: "".join(f"{s.image}\t{s.label}\n" for s in report.samples.get(split, ())).encode()
        for split in FETCHED_LABEL_NAMES
    }


def publish_dataset(
    store: ObjectStore,
    folder: Path,
    *,
    name: str,
    skip_bad: bool = False,
    task: str | None = None,
    progress: Progress | None = None,
    report: ValidationReport | None = None,
    shard_bytes: int | None = None,
) -> DatasetVersion:
    """Validate ``folder`` and publish it as an immutable version of dataset ``name``.

    Pass ``report`` to reuse a validation already done (the CLI shows its warnings first).
    Raises :class:`InvalidDataset` (exit code 2) when the dataset has errors; nothing is sent then.
    """
    check_name(name)
    folder = Path(folder)
    if report is None:
        report = validate_dataset(folder, task=task, skip_bad=skip_bad, progress=progress)
    if not report.ok:
        raise InvalidDataset(report)

    label_bytes = render_labels(report)
    label_shas = {split: hashlib.sha256(data).hexdigest() for split, data in label_bytes.items()}
    files = {path: (image.sha256, image.size) for path, image in report.images.items()}
    version_id = compute_version_id(report.task, label_shas, files)
    try:  # one GET, not HEAD + GET: this is the whole cost of re-uploading an unchanged folder
        return DatasetVersion.from_manifest(store, read_manifest(store, name, version_id), reused=True)
    except NotFound:
        pass

    # Where each piece of content already lives (sha256 -> (shard, offset)).
    existing_shards = {info.key: info.size for info in store.list(shards_prefix(name))}
    located: dict[str, tuple[str, int]] = {}
    newest = _newest_manifest(store, name)
    try:
        index = decode_index(store.get_bytes(newest["index"]["key"]), newest) if newest else {}
    except (NotFound, IntegrityError):
        newest, index = None, {}  # a damaged older version only costs re-sending its files
    if newest is not None:
        for sha, _size, shard, offset in index.values():
            if existing_shards.get(shard_key(name, shard)) == newest["shards"].get(shard):
                located[sha] = (shard, offset)
        for entry in newest["labels"].values():
            if existing_shards.get(shard_key(name, entry["shard"])) == newest["shards"].get(entry["shard"]):
                located[entry["sha256"]] = (entry["shard"], entry["offset"])

    # What still has to be sent: each distinct content once, under the first path that has it.
    pending: dict[str, tuple[str, int]] = {}  # sha -> (member name, size)
    for split, data in label_bytes.items():
        if label_shas[split] not in located:
            pending.setdefault(label_shas[split], (LABELS_MEMBER_DIR + FETCHED_LABEL_NAMES[split], len(data)))
    for path in sorted(files):
        sha, size = files[path]
        if sha not in located:
            pending.setdefault(sha, (path, size))
    order = sorted(pending, key=lambda sha: pending[sha][0])
    sizes = [pending[sha][1] for sha in order]
    groups = plan_shards(order, sizes, shard_bytes or shard_target(sum(sizes)))

    labels_by_sha = {label_shas[split]: data for split, data in label_bytes.items()}
    shard_sizes: dict[str, int] = {}
    total_new = sum(sizes)
    sent = done = 0
    staging = Path(tempfile.mkdtemp(prefix="ocrbatch-upload-"))

    def pack_and_send(number: int, group: list[str]) -> tuple[str, int, dict[str, int], bool]:
        writer = ShardWriter(staging / f"shard-{number}.tar")
        try:
            offsets = {}
            for sha in group:
                member = pending[sha][0]
                data = labels_by_sha.get(sha)
                if data is None:
                    data = _read_unchanged(folder, report.images[member])
                offsets[sha] = writer.add(member, data)
            shard_sha = writer.close()
        except BaseException:
            writer.abort()
            raise
        key = shard_key(name, shard_sha)
        # Already there (an interrupted or concurrent upload sent it): same name, same bytes.
        needed = existing_shards.get(key) != writer.size
        if needed:
            store.put_file(key, writer.path)
        writer.path.unlink(missing_ok=True)
        return shard_sha, writer.size, offsets, needed

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(pack_and_send, number, group) for number, group in enumerate(groups)]
            for group, future in zip(groups, futures):
                try:
                    shard_sha, size, offsets, needed = future.result()
                except BaseException:
                    for later in futures:
                        later.cancel()
                    raise
                shard_sizes[shard_sha] = size
                sent += size if needed else 0
                located.update((sha, (shard_sha, offset)) for sha, offset in offsets.items())
                done += sum(pending[sha][1] for sha in group)
                if progress:
                    progress("uploading", done, total_new)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    # The version's shards: those holding any of its files (reused or new).
    index_files = {path: [sha, size, *located[sha]] for path, (sha, size) in files.items()}
    labels = {
        split: {
            "path": FETCHED_LABEL_NAMES[split],
            "sha256": label_shas[split],
            "size": len(label_bytes[split]),
            "shard": located[label_shas[split]][0],
            "offset": located[label_shas[split]][1],
        }
        for split in label_bytes
    }
    used = {entry[2] for entry in index_files.values()} | {entry["shard"] for entry in labels.values()}
    shards = {sha: shard_sizes.get(sha) or existing_shards[shard_key(name, sha)] for sha in sorted(used)}

    index_blob = encode_index(index_files)
    index_sha = hashlib.sha256(index_blob).hexdigest()
    store.put_bytes(index_key(name, version_id), index_blob)
    manifest = {
        "format": FORMAT,
        "kind": KIND,
        "name": name,
        "version_id": version_id,
        "task": report.task,
        "created_at": time.time(),
        "files": len(files),
        "bytes": sum(size for _, size in files.values()) + sum(len(d) for d in label_bytes.values()),
        "counts": report.counts,
        "characters": list(report.characters),
        "labels": labels,
        "shards": shards,
        "index": {"key": index_key(name, version_id), "sha256": index_sha, "size": len(index_blob)},
        "source": {"folder": folder.resolve().name, "label_files": {s: p.name for s, p in report.label_files.items()}},
    }
    manifest_blob = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False).encode()
    store.put_bytes(manifest_key(name, version_id), manifest_blob)
    return DatasetVersion.from_manifest(
        store, manifest, uploaded_bytes=sent + len(index_blob) + len(manifest_blob), reused=False
    )


def _read_unchanged(folder: Path, image: ImageFile) -> bytes:
    """The file's bytes, provided it is still the file validated (same size and mtime, the test the
    file memo also relies on): hashing it again would cost as much as the first time."""
    with open(folder / image.path, "rb") as handle:
        st = os.fstat(handle.fileno())
        data = handle.read()
    if st.st_size != image.size or st.st_mtime_ns != image.mtime_ns or len(data) != image.size:
        raise BadInput(f"{folder / image.path} changed during the upload; run the upload again")
    return data


def _manifests(store: ObjectStore, prefix: str) -> list[dict]:
    keys = [info.key for info in store.list(prefix) if MANIFEST_KEY_PATTERN.match(info.key)]
    if not keys:
        return []

    def load(key: str) -> dict | None:
        name, version_id = MANIFEST_KEY_PATTERN.match(key).groups()
        try:
            return read_manifest(store, name, version_id)
        except NotFound:  # deleted between list and get
            return None

    with ThreadPoolExecutor(max_workers=min(16, len(keys))) as pool:
        return [m for m in pool.map(load, keys) if m is not None]


def _newest_manifest(store: ObjectStore, name: str) -> dict | None:
    manifests = _manifests(store, f"{dataset_prefix(name)}versions/")
    return max(manifests, key=lambda m: m["created_at"]) if manifests else None


def list_versions(store: ObjectStore, name: str | None = None) -> list[DatasetVersion]:
    """Every published version (of ``name``, or of all datasets), newest first."""
    prefix = f"{dataset_prefix(check_name(name))}versions/" if name else DATASETS_PREFIX
    versions = [DatasetVersion.from_manifest(store, m) for m in _manifests(store, prefix)]
    return sorted(versions, key=lambda v: (-v.created_at, v.name, v.version_id))


def resolve_version(store: ObjectStore, ref: str) -> DatasetVersion:
    """Find a version by URI, store key, ``name@id`` (an unambiguous id prefix will do) or ``name``
    (its newest version)."""
    return DatasetVersion.from_manifest(store, resolve_manifest(store, ref))


def resolve_manifest(store: ObjectStore, ref: str) -> dict:
    ref = (ref or "").strip()
    if not ref:
        raise BadInput("no dataset version given: pass a URI, NAME@ID or NAME")
    key = _key_from_uri(store, ref) if "://" in ref else ref
    if key.startswith(DATASETS_PREFIX):
        parts = key[len(DATASETS_PREFIX) :].rstrip("/").split("/")
        if len(parts) >= 3 and parts[1] == "versions" and (len(parts) == 3 or parts[3:] == ["manifest.json"]):
            return read_manifest(store, parts[0], parts[2])
        raise BadInput(f"{ref!r} is not a dataset version key (datasets/<name>/versions/<id>)")
    name, _, id_prefix = key.partition("@")
    check_name(name)
    candidates = _manifests(store, f"{dataset_prefix(name)}versions/{id_prefix}")
    if not candidates:
        what = f"no version of dataset {name!r} starts with {id_prefix!r}" if id_prefix else f"no dataset {name!r}"
        raise NotFound(f"{what} in {store.uri(DATASETS_PREFIX)} (see `ocrbatch datasets`)")
    if id_prefix and len(candidates) > 1:
        ids = ", ".join(sorted(m["version_id"] for m in candidates))
        raise BadInput(f"{ref!r} is ambiguous: {ids}")
    return max(candidates, key=lambda m: m["created_at"])


def _key_from_uri(store: ObjectStore, uri: str) -> str:
    base = store.uri("")
    if not base.endswith("/"):
        base += "/"
    if not uri.startswith(base):
        raise BadInput(f"{uri} is not in this store ({store.uri('')})")
    return uri[len(base) :]

