"""What a dataset version is in the store: its manifest, its file index, and :class:`DatasetVersion`.

Keys (``ocrbatch.layout.DatasetLayout``)::

    datasets/<name>/shards/<sha256>.tar              image bytes (see ``packing``), shared by versions
    datasets/<name>/chunks/<sha256>.gz               pieces of file indexes and label files, shared
    datasets/<name>/versions/<id>/manifest.json      the version itself, written LAST

Trust runs down from the version id, the one thing a user, a job or a record names:

* ``content`` (task, label files' sha256, characters, counts, and the digest of every image's path,
  sha256 and size) is what the id commits to: the id is the first 16 hex digits of the sha256 of its
  canonical JSON. A manifest whose content does not hash to the id in its key is refused. (64 bits:
  ample against damage and edits, not a signature against someone who may write the bucket.)
* ``index`` lists the chunks of the file index (lines ``path<TAB>sha256<TAB>size<TAB>shard<TAB>offset``,
  sorted by path); a reader checks each chunk against its name and the (path, sha256, size) of all
  lines against ``content.files_sha256``, so the index cannot be swapped, truncated or reordered.
* ``labels`` lists the chunks of each label file, checked against their names and, joined, against
  the label file's sha256 in ``content``.
* every image is checked against its sha256 when it is read out of its shard, and every shard
  against the sha256 it is named after.

Only ``created_at`` and ``source`` (where the upload came from) are not covered: they describe the
upload, not the data. The id is derived from the content alone, not from packing or time, so the
same dataset always gets the same id: re-uploading an unchanged folder is a no-op and concurrent
uploads of it agree.

Indexes and label files are cut into chunks at content-defined boundaries (a line whose path
hashes to a multiple of the mean chunk length, ``chunk_mean``), so a small change rewrites one or
two chunks and the next version shares all the others: a one-file change sends a small delta, not
the whole index.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from ocrbatch.datasets.transport import naming, ordered_map
from ocrbatch.errors import BadInput, IntegrityError, NotFound
from ocrbatch.layout import DATASETS_PREFIX, DatasetLayout

FORMAT = 2
KIND = "ocrbatch.dataset"
VERSION_ID_LENGTH = 16
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
CHUNK_MEAN_LINES = 4096  # at most: ~700 kB of index (~300 kB compressed) or ~120 kB of labels
CHUNK_MAX_FACTOR = 4  # a run of lines with no boundary is cut anyway at this many times the mean
REPAIR_HINT = "re-upload the dataset's folder with `ocrbatch upload --repair` to repair it"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise BadInput(f"dataset name {name!r} must be letters, digits, '.', '_' or '-' (at most 100)")
    return name


def name_from_folder(folder_name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", folder_name).lstrip("._-")[:100]
    return cleaned or "dataset"


# --- the content the version id commits to ----------------------------------------------------


class FilesDigest:
    """The digest of every image's (path, sha256, size), fed in path order."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.count = 0
        self.bytes = 0
        self._last = ""

    def update(self, path: str, sha256: str, size: int) -> None:
        if path <= self._last and self.count:
            raise ValueError(f"paths out of order or repeated at {path!r}")
        self._last = path
        self._digest.update(f"{path}\0{sha256}\0{size}\n".encode())
        self.count += 1
        self.bytes += size

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def version_id_of(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:VERSION_ID_LENGTH]


# --- chunks: content-defined pieces of line files ---------------------------------------------


def chunk_mean(count: int) -> int:
    """Lines per chunk, on average, for a stream of ``count`` lines: about 1/16 of them (a power of
    two, at least 256), at most ``CHUNK_MEAN_LINES``. Small datasets get small chunks, so their
    deltas stay small too, but not so many that the first upload pays for the requests (each chunk
    is one PUT); the mean changes only when the size crosses a power of two."""
    target = max(256, 1 << max(0, round(math.log2(max(count, 1) / 16))))
    return min(CHUNK_MEAN_LINES, target)


def cut_chunks(lines: Iterable[bytes], mean: int) -> Iterator[bytes]:
    """Join ``lines`` into chunks, ending one after a line whose path (the text before its first
    tab) hashes to a multiple of ``mean``: an insertion or deletion moves only the boundaries next
    to it, so the chunks around it stay byte-identical."""
    longest = mean * CHUNK_MAX_FACTOR
    pending: list[bytes] = []
    for line in lines:
        pending.append(line)
        tab = line.find(b"\t")
        if zlib.crc32(line[:tab] if tab >= 0 else line) % mean == 0 or len(pending) >= longest:
            yield b"".join(pending)
            pending = []
    if pending:
        yield b"".join(pending)


def chunk_name(raw: bytes) -> str:
    """A chunk is named by the sha256 of its lines, not of its compressed bytes."""
    return hashlib.sha256(raw).hexdigest()


def compress_chunk(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=5, mtime=0)


def encode_chunk(raw: bytes) -> tuple[str, bytes]:
    """(the chunk's name, the bytes stored)."""
    return chunk_name(raw), compress_chunk(raw)


def decode_chunk(stored: bytes, sha256: str, where: str) -> bytes:
    try:
        raw = gzip.decompress(stored)
    except (OSError, EOFError, zlib.error):
        raw = None
    if raw is None or hashlib.sha256(raw).hexdigest() != sha256:
        raise IntegrityError(f"{where} is corrupt (it does not match its sha256); {REPAIR_HINT}")
    return raw


def index_line(path: str, sha256: str, size: int, shard: str, offset: int) -> bytes:
    return f"{path}\t{sha256}\t{size}\t{shard}\t{offset}\n".encode()


def parse_index_chunk(raw: bytes, where: str) -> Iterator[tuple[str, str, int, str, int]]:
    try:
        for line in raw.decode().splitlines():
            path, sha, size, shard, offset = line.split("\t")
            yield path, sha, int(size), shard, int(offset)
    except ValueError:
        raise IntegrityError(f"{where} is not a file index; {REPAIR_HINT}") from None


def load_chunk(store, manifest: dict, entry: list) -> bytes:
    """A chunk of ``manifest``'s index or labels, verified; IntegrityError when missing or corrupt."""
    key = DatasetLayout(manifest["name"]).chunk(entry[0])
    with naming(store, key, "download"):
        try:
            stored = store.get_bytes(key)
        except NotFound:
            ref = f"{manifest['name']}@{manifest['version_id']}"
            raise IntegrityError(f"{store.uri(key)} of {ref} is missing from the store; {REPAIR_HINT}") from None
    return decode_chunk(stored, entry[0], store.uri(key))


def iter_index(store, manifest: dict) -> Iterator[tuple[str, str, int, str, int]]:
    """``(path, sha256, size, shard, offset)`` of every image, in path order, streamed chunk by
    chunk and checked against the version id (the error comes after the last line at the latest)."""
    where = f"the file index of {manifest['name']}@{manifest['version_id']}"
    digest = FilesDigest()
    for raw in ordered_map(lambda entry: load_chunk(store, manifest, entry), manifest["index"]):
        for entry in parse_index_chunk(raw, where):
            try:
                digest.update(*entry[:3])
            except ValueError:
                raise IntegrityError(f"{where} is out of order at {entry[0]!r}; {REPAIR_HINT}") from None
            yield entry
    content = manifest["content"]
    if digest.count != content["files"] or digest.hexdigest() != content["files_sha256"]:
        raise IntegrityError(f"{where} does not match the version id (altered or damaged); {REPAIR_HINT}")


# --- the manifest ------------------------------------------------------------------------------


def read_manifest(store, name: str, version_id: str) -> dict:
    """The manifest of ``name@version_id``, checked against the id (IntegrityError if it fails)."""
    key = DatasetLayout(name).manifest(version_id)
    try:
        blob = store.get_bytes(key)
    except NotFound:
        raise NotFound(f"no dataset version {name}@{version_id} in {store.uri(DATASETS_PREFIX)}") from None
    try:
        manifest = json.loads(blob)
    except ValueError:
        raise IntegrityError(f"manifest {store.uri(key)} is not valid JSON; {REPAIR_HINT}") from None
    check_manifest(manifest, name, version_id, store.uri(key))
    return manifest


def check_manifest(manifest, name: str, version_id: str, where: str) -> None:
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise IntegrityError(f"{where} is not an ocrbatch dataset manifest; {REPAIR_HINT}")
    if manifest.get("format") != FORMAT:
        raise IntegrityError(
            f"{where} is in format {manifest.get('format')}, this ocrbatch reads format {FORMAT}; {REPAIR_HINT}"
        )
    try:
        content = manifest["content"]
        ok = (
            manifest["name"] == name
            and manifest["version_id"] == version_id
            and version_id_of(content) == version_id
        )
        # The shapes every reader relies on; a damaged manifest fails here, not deep inside a fetch.
        ok = ok and all(isinstance(c[0], str) and isinstance(c[1], int) for c in manifest["index"])
        ok = ok and set(manifest["labels"]) == set(content["labels"])
        ok = ok and all(isinstance(c[0], str) and isinstance(c[1], int) for v in manifest["labels"].values() for c in v)
        ok = ok and all(isinstance(size, int) for size in manifest["shards"].values())
        ok = ok and isinstance(manifest["created_at"], (int, float))
    except (KeyError, TypeError, IndexError, AttributeError):
        ok = False
    if not ok:
        raise IntegrityError(f"manifest {where} does not match version id {version_id}: it was altered or damaged; {REPAIR_HINT}")


@dataclass(frozen=True)
class DatasetVersion:
    """One published (immutable) dataset version, as ``upload`` reports and ``datasets`` lists it."""

    name: str
    version_id: str
    key: str  # datasets/<name>/versions/<id>
    uri: str  # store.uri(key): what `submit` and the trainer take
    files: int  # images
    bytes: int  # images + label files
    task: str
    created_at: float  # epoch seconds
    uploaded_bytes: int = 0  # sent by the upload that returned this (0 when listed)
    reused: bool = False  # the version already existed, complete: nothing was sent
    repaired: bool = False  # the version existed but the store lacked some of it: that was re-sent
    counts: dict = field(default_factory=dict)
    characters: tuple[str, ...] = ()
    shards: int = 0
    split: dict | None = None  # how val was held out (``split.HeldOutSplit``); None: a val file

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version_id}"

    @classmethod
    def from_manifest(cls, store, manifest: dict, **extra) -> "DatasetVersion":
        key = DatasetLayout(manifest["name"]).version(manifest["version_id"])
        content = manifest["content"]
        return cls(
            name=manifest["name"],
            version_id=manifest["version_id"],
            key=key,
            uri=store.uri(key),
            files=content["files"],
            bytes=content["bytes"],
            task=content["task"],
            created_at=manifest["created_at"],
            # Lines the upload skipped (--skip-bad) describe the upload, not the data: kept apart.
            counts={**content.get("counts", {}), "skipped": manifest.get("source", {}).get("skipped_lines", 0)},
            characters=tuple(content.get("characters", "")),
            shards=len(manifest.get("shards", {})),
            split=content.get("split"),
            **extra,
        )

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "version_id": self.version_id,
            "ref": self.ref,
            "key": self.key,
            "uri": self.uri,
            "task": self.task,
            "files": self.files,
            "bytes": self.bytes,
            "uploaded_bytes": self.uploaded_bytes,
            "reused": self.reused,
            "repaired": self.repaired,
            "created_at": self.created_at,
            "counts": dict(self.counts),
            "characters": "".join(self.characters),
            "shards": self.shards,
            "split": self.split,
        }
