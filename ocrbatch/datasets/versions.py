"""Publishing dataset versions and repairing them (``catalog`` finds them again).

Publishing a validated folder:
1. compute the content and the version id it commits to (``manifest``); if that version's manifest
   exists and matches, and the store holds every shard and chunk it names, stop: nothing is sent.
   Anything missing (a deleted shard, an unreadable manifest) is re-sent instead of trusted;
2. find the files the store already holds, in intact shards that this version's own manifest (for
   a repair) or the newest version of the same name points to, streaming that version's index;
3. pack the rest, sorted by path, into deterministic shards (``packing``) and upload each shard that
   is not already there, two at a time, so packing one overlaps sending another;
4. send the index and label chunks the store lacks (a small change: one or two of each), then the
   manifest, LAST: until then no version is visible, so an interrupted upload leaves only shards and
   chunks, which the rerun finds by name and does not send again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from ocrbatch.datasets.catalog import newest_manifest
from ocrbatch.datasets.manifest import (
    FORMAT,
    KIND,
    DatasetVersion,
    FilesDigest,
    check_name,
    chunk_mean,
    chunk_name,
    compress_chunk,
    cut_chunks,
    decode_chunk,
    index_line,
    parse_index_chunk,
    read_manifest,
    version_id_of,
)
from ocrbatch.datasets.packing import ShardWriter, plan_shards, shard_target
from ocrbatch.datasets.staging import scratch_folder
from ocrbatch.datasets.transport import ByteTally, naming, ordered_map
from ocrbatch.datasets.validation import (
    FETCHED_LABEL_NAMES,
    InvalidDataset,
    ValidationReport,
    validate_dataset,
)
from ocrbatch.errors import BadInput, IntegrityError, NotFound
from ocrbatch.layout import DatasetLayout
from ocrbatch.storage import ObjectStore

Progress = Callable[[str, int, int], None]  # (stage, done, total); stages: validating, uploading


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
    val_fraction: float | None = None,
    include_unchecked: bool = False,
    shard_bytes: int | None = None,
    repair: bool = False,
) -> DatasetVersion:
    """Validate ``folder`` and publish it as an immutable version of dataset ``name``.

    Pass ``report`` to reuse a validation already done (the CLI shows its warnings first);
    ``val_fraction`` and ``include_unchecked`` are ``validate_dataset``'s.
    Objects the store lacks are always sent again; with ``repair``, the version's stored shards and
    chunks are also read back in full, and any whose bytes do not match their names are sent again.
    Raises :class:`InvalidDataset` (exit code 2) when the dataset has errors; nothing is sent then.
    """
    check_name(name)
    layout = DatasetLayout(name)
    folder = Path(folder)
    if report is None:
        report = validate_dataset(
            folder, task=task, skip_bad=skip_bad, progress=progress, val_fraction=val_fraction,
            include_unchecked=include_unchecked,
        )
    if not report.ok:
        raise InvalidDataset(report)

    label_bytes, files, paths, content = _planned(report)
    version_id = version_id_of(content)
    repairing = True
    try:  # one GET: with the listing below, the whole cost of re-uploading an unchanged folder
        existing = read_manifest(store, name, version_id)
    except NotFound:
        existing, repairing = None, False
    except IntegrityError:
        existing = None  # a damaged manifest: rewritten below
    stored = _stored_objects(store, layout)
    missing = _missing_objects(existing, layout, stored) if existing is not None else []
    if existing is not None and repair:
        from ocrbatch.datasets.checks import damaged_objects  # checks reads versions: imported here

        missing += sorted(damaged_objects(store, existing) - set(missing))
    if existing is not None and not missing:
        return DatasetVersion.from_manifest(store, existing, reused=True)

    # Where each image's content already lives (sha256 -> (shard, offset)): in this version's own
    # manifest when only some objects are missing (a repair), else in the newest version's.
    source = existing or newest_manifest(store, name)
    located = _locate(store, source, {sha for sha, _ in files.values()}, stored, set(missing)) if source else {}

    # What still has to be sent: each distinct content once, under the first path that has it.
    pending: dict[str, tuple[str, int]] = {}  # sha -> (path, size)
    for path in paths:
        sha, size = files[path]
        if sha not in located:
            pending.setdefault(sha, (path, size))
    order = list(pending)  # in path order already
    sizes = [pending[sha][1] for sha in order]
    groups = plan_shards(order, sizes, shard_bytes or shard_target(sum(sizes)))
    sent = _send_shards(store, layout, folder, report, groups, pending, located, stored, set(missing), progress)

    # The version's shards: those holding any of its files (reused or new).
    used = sorted({located[sha][0] for sha, _ in files.values()})
    shards = {sha: stored[layout.shard(sha)] for sha in used}

    def index_lines():
        for path in paths:
            sha, size = files[path]
            yield index_line(path, sha, size, *located[sha])

    with _ChunkSender(store, layout, stored, suspect=set(missing)) as chunks:
        index = chunks.send(index_lines(), len(files))
        labels = {}
        for split, data in label_bytes.items():
            lines = data.splitlines(keepends=True)
            labels[split] = chunks.send(lines, len(lines))
    manifest = {
        "format": FORMAT,
        "kind": KIND,
        "name": name,
        "version_id": version_id,
        "content": content,
        "index": index,
        "labels": labels,
        "shards": shards,
        "created_at": existing["created_at"] if existing else time.time(),
        "source": {
            "folder": folder.resolve().name,
            "label_files": {s: p.name for s, p in report.label_files.items()},
            "skipped_lines": report.skipped,
            **report.origin,
        },
    }
    manifest_blob = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False).encode()
    with naming(store, layout.manifest(version_id), "upload"):
        store.put_bytes(layout.manifest(version_id), manifest_blob)
    return DatasetVersion.from_manifest(
        store, manifest, uploaded_bytes=sent + chunks.sent + len(manifest_blob), repaired=repairing
    )


def planned_version_id(report: ValidationReport) -> str:
    """The id :func:`publish_dataset` publishes a validated folder under, computed without the store
    (what a dry run shows)."""
    return version_id_of(_planned(report)[3])


def _planned(report: ValidationReport) -> tuple[dict[str, bytes], dict, list[str], dict]:
    """A validated folder as a version holds it: its label files, its files ({path: (sha256, size)}),
    their paths in order, and the content its id commits to."""
    label_bytes = render_labels(report)
    files = {path: (image.sha256, image.size) for path, image in report.images.items()}
    paths = sorted(files)
    return label_bytes, files, paths, _content(report, label_bytes, files, paths)


def _content(report: ValidationReport, label_bytes: dict[str, bytes], files: dict, paths: list[str]) -> dict:
    """What the version id commits to (see ``manifest``); ``paths`` are ``files``' keys, sorted."""
    digest = FilesDigest()
    for path in paths:
        digest.update(path, *files[path])
    labels = {
        split: {"path": FETCHED_LABEL_NAMES[split], "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for split, data in label_bytes.items()
    }
    return {
        "task": report.task,
        "labels": labels,
        "files": digest.count,
        "files_sha256": digest.hexdigest(),
        "bytes": digest.bytes + sum(len(data) for data in label_bytes.values()),
        "counts": {key: value for key, value in report.counts.items() if key != "skipped"},
        "characters": "".join(report.characters),
        # Only when val was held out, so the ids of versions with a val file stay what they were.
        **({"split": report.split.to_json()} if report.split else {}),
    }


def _stored_objects(store: ObjectStore, layout: DatasetLayout) -> dict[str, int]:
    """key -> size of the dataset's shards and chunks: one listing of the dataset (one request
    until it holds a thousand objects), part of what an unchanged re-upload costs."""
    with naming(store, layout.prefix, "list"):
        return {
            info.key: info.size
            for info in store.list(layout.prefix)
            if info.key.startswith(layout.shards) or info.key.startswith(layout.chunks)
        }


def _missing_objects(manifest: dict, layout: DatasetLayout, stored: dict[str, int]) -> list[str]:
    """Keys the version needs that the store lacks (or holds at another size, for shards)."""
    missing = [layout.shard(sha) for sha, size in manifest["shards"].items() if stored.get(layout.shard(sha)) != size]
    chunks = [*manifest["index"], *(c for split in manifest["labels"].values() for c in split)]
    missing += [layout.chunk(c[0]) for c in chunks if stored.get(layout.chunk(c[0])) != c[1]]
    return missing


def _locate(
    store: ObjectStore, manifest: dict, wanted: set[str], stored: dict[str, int], damaged: set[str]
) -> dict[str, tuple[str, int]]:
    """sha256 -> (shard, offset) for the ``wanted`` contents that ``manifest``'s intact shards hold
    (stored at their size, not known ``damaged``), streaming its index. A damaged source only costs
    re-sending its files."""
    layout = DatasetLayout(manifest["name"])
    located: dict[str, tuple[str, int]] = {}

    def chunk(entry) -> bytes:
        key = layout.chunk(entry[0])
        try:
            with naming(store, key, "download"):
                return decode_chunk(store.get_bytes(key), entry[0], store.uri(key))
        except (NotFound, IntegrityError):
            return b""

    intact = {
        sha for sha, size in manifest["shards"].items()
        if stored.get(layout.shard(sha)) == size and layout.shard(sha) not in damaged
    }
    for raw in ordered_map(chunk, manifest["index"]):
        try:
            for _path, sha, _size, shard, offset in parse_index_chunk(raw, ""):
                if sha in wanted and shard in intact:
                    located.setdefault(sha, (shard, offset))
        except IntegrityError:
            continue
    return located


def _send_shards(store, layout, folder, report, groups, pending, located, stored, damaged, progress) -> int:
    """Pack ``groups`` into shards and send each one the store lacks (or holds ``damaged``), two at a
    time (packing one overlaps sending another); fills ``located`` and ``stored``; returns the bytes
    sent."""
    total_new = sum(size for _, size in pending.values())
    tally = ByteTally((lambda done: progress("uploading", min(done, total_new), total_new)) if progress else None)
    sent = 0
    with scratch_folder() as staging:

        def pack_and_send(number: int, group: list[str]) -> tuple[str, int, dict[str, int], bool]:
            writer = ShardWriter(staging / f"shard-{number}.tar")
            try:
                offsets = {sha: writer.add(pending[sha][0], _read_unchanged(folder, report, pending[sha][0])) for sha in group}
                shard_sha = writer.close()
            except BaseException:
                writer.abort()
                raise
            key = layout.shard(shard_sha)
            carried = sum(pending[sha][1] for sha in group)  # image bytes: the unit progress counts in
            # Already there (an interrupted or concurrent upload sent it): same name, same bytes.
            needed = stored.get(key) != writer.size or key in damaged
            if needed:
                with naming(store, key, "upload"):
                    store.put_file(key, writer.path, progress=tally.counter(carried / max(1, writer.size)))
            else:
                tally.add(carried)
            writer.path.unlink(missing_ok=True)
            return shard_sha, writer.size, offsets, needed

        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(pack_and_send, number, group) for number, group in enumerate(groups)]
            for group, future in zip(groups, futures):
                try:
                    shard_sha, size, offsets, needed = future.result()
                except BaseException:
                    for later in futures:
                        later.cancel()
                    raise
                stored[layout.shard(shard_sha)] = size
                sent += size if needed else 0
                located.update((sha, (shard_sha, offset)) for sha, offset in offsets.items())
    if progress and total_new:
        progress("uploading", total_new, total_new)  # whole, whatever the rounding of scaled bytes
    return sent


class _ChunkSender:
    """Cuts line streams into chunks and sends those the store lacks, a few at a time.

    A chunk the store holds is trusted by name (content addressing; readers check it) and not even
    compressed again, which is most of a small change's index; ``suspect`` keys (held at another
    size than a manifest says) are sent again."""

    WORKERS = 8

    def __init__(self, store: ObjectStore, layout: DatasetLayout, stored: dict[str, int], suspect: set[str]):
        self.store = store
        self.layout = layout
        self.stored = stored
        self.suspect = suspect
        self.sent = 0
        self._pool = ThreadPoolExecutor(max_workers=self.WORKERS)
        self._futures: list = []

    def send(self, lines, count: int) -> list[list]:
        """Send the chunks of ``lines`` (``count`` of them) the store lacks; return their entries."""
        entries = []
        for raw in cut_chunks(lines, chunk_mean(count)):
            sha = chunk_name(raw)
            key = self.layout.chunk(sha)
            size = self.stored.get(key)
            if size is None or key in self.suspect:
                blob = compress_chunk(raw)
                size = self.stored[key] = len(blob)
                self.suspect.discard(key)
                self.sent += size
                self._futures.append(self._pool.submit(self._put, key, blob))
                if len(self._futures) > 4 * self.WORKERS:  # bounded: chunks are not all held at once
                    self._futures.pop(0).result()
            entries.append([sha, size, raw.count(b"\n")])
        return entries

    def _put(self, key: str, blob: bytes) -> None:
        with naming(self.store, key, "upload"):
            self.store.put_bytes(key, blob)

    def __enter__(self) -> "_ChunkSender":
        return self

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:
                for future in self._futures:
                    future.result()
        finally:
            self._pool.shutdown(cancel_futures=True)


def _read_unchanged(folder: Path, report: ValidationReport, path: str) -> bytes:
    """The file's bytes, provided it is still the file validated (same size and mtime, the test the
    file memo also relies on): hashing it again would cost as much as the first time. A crop cut
    from a PPOCRLabel box is read from where validation cut it."""
    image = report.images[path]
    with open(report.derived.get(path) or folder / image.path, "rb") as handle:
        st = os.fstat(handle.fileno())
        data = handle.read()
    if st.st_size != image.size or st.st_mtime_ns != image.mtime_ns or len(data) != image.size:
        raise BadInput(f"{folder / image.path} changed during the upload; run the upload again")
    return data
