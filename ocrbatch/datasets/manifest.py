"""What a dataset version is in the store: its keys, its manifest, and :class:`DatasetVersion`.

    datasets/<name>/shards/<sha256>.tar                 shards (see ``packing``), shared by versions
    datasets/<name>/versions/<id>/files.json.gz         the file index, written before the manifest
    datasets/<name>/versions/<id>/manifest.json         the version itself, written LAST

``manifest.json`` is small (summary, label files, shard list, characters) so listing versions is
cheap; it names the file index by sha256, so the index cannot be swapped or truncated unnoticed.
The index maps every image path to ``[sha256, size, shard sha256, data offset]``.

The version id is derived from the content alone (task, label files, every image's path and
sha256), not from how it was packed or when: the same dataset always gets the same id, which is
what makes re-uploading an unchanged folder a no-op and concurrent uploads of it agree.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from dataclasses import dataclass, field

from ocrbatch.errors import BadInput, IntegrityError, NotFound
from ocrbatch.layout import DATASETS_PREFIX, MANIFEST_NAME, dataset_prefix
from ocrbatch.storage import ObjectStore

FORMAT = 1
KIND = "ocrbatch.dataset"
INDEX_NAME = "files.json.gz"
VERSION_ID_LENGTH = 16
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MANIFEST_KEY_PATTERN = re.compile(
    "^" + re.escape(DATASETS_PREFIX) + r"([^/]+)/versions/([0-9a-f]+)/" + re.escape(MANIFEST_NAME) + "$"
)


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise BadInput(f"dataset name {name!r} must be letters, digits, '.', '_' or '-' (at most 100)")
    return name


def name_from_folder(folder_name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", folder_name).lstrip("._-")[:100]
    return cleaned or "dataset"


def version_key(name: str, version_id: str) -> str:
    return f"{dataset_prefix(name)}versions/{version_id}"


def manifest_key(name: str, version_id: str) -> str:
    return f"{version_key(name, version_id)}/{MANIFEST_NAME}"


def index_key(name: str, version_id: str) -> str:
    return f"{version_key(name, version_id)}/{INDEX_NAME}"


def shards_prefix(name: str) -> str:
    return f"{dataset_prefix(name)}shards/"


def shard_key(name: str, sha256: str) -> str:
    return f"{shards_prefix(name)}{sha256}.tar"


def compute_version_id(task: str, labels: dict[str, str], files: dict[str, tuple[str, int]]) -> str:
    """``labels``: split -> sha256 of its label file; ``files``: path -> (sha256, size)."""
    digest = hashlib.sha256(json.dumps({"task": task, "labels": labels}, sort_keys=True).encode())
    # One line per file; paths cannot hold a newline or NUL (validation splits lines on newlines).
    digest.update("".join(f"{path}\0{sha}\0{size}\n" for path, (sha, size) in sorted(files.items())).encode())
    return digest.hexdigest()[:VERSION_ID_LENGTH]


def encode_index(files: dict[str, list]) -> bytes:
    body = json.dumps({"format": FORMAT, "files": files}, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return gzip.compress(body.encode(), compresslevel=5, mtime=0)  # mtime=0: same index, same bytes


def decode_index(data: bytes, manifest: dict) -> dict[str, list]:
    expected = manifest["index"]
    if len(data) != expected["size"] or hashlib.sha256(data).hexdigest() != expected["sha256"]:
        raise IntegrityError(f"file index of dataset {manifest['name']}@{manifest['version_id']} is corrupt")
    return json.loads(gzip.decompress(data))["files"]


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
    reused: bool = False  # the version already existed: nothing was sent
    counts: dict = field(default_factory=dict)
    characters: tuple[str, ...] = ()
    shards: int = 0

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version_id}"

    @classmethod
    def from_manifest(cls, store: ObjectStore, manifest: dict, **extra) -> "DatasetVersion":
        key = version_key(manifest["name"], manifest["version_id"])
        return cls(
            name=manifest["name"],
            version_id=manifest["version_id"],
            key=key,
            uri=store.uri(key),
            files=manifest["files"],
            bytes=manifest["bytes"],
            task=manifest["task"],
            created_at=manifest["created_at"],
            counts=dict(manifest.get("counts", {})),
            characters=tuple(manifest.get("characters", ())),
            shards=len(manifest.get("shards", {})),
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
            "created_at": self.created_at,
            "counts": dict(self.counts),
            "characters": "".join(self.characters),
            "shards": self.shards,
        }


def read_manifest(store: ObjectStore, name: str, version_id: str) -> dict:
    key = manifest_key(name, version_id)
    try:
        manifest = json.loads(store.get_bytes(key))
    except NotFound:
        raise NotFound(f"no dataset version {name}@{version_id} in {store.uri(DATASETS_PREFIX)}") from None
    except ValueError:
        raise IntegrityError(f"manifest {store.uri(key)} is not valid JSON") from None
    if manifest.get("kind") != KIND or manifest.get("format") != FORMAT:
        raise IntegrityError(f"{store.uri(key)} is not an ocrbatch dataset manifest (format {FORMAT})")
    return manifest
