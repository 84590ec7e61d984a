"""Finding published dataset versions again: list them (damaged ones apart) and resolve a reference."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ocrbatch.datasets.manifest import DatasetVersion, check_name, read_manifest
from ocrbatch.datasets.transport import naming
from ocrbatch.errors import BadInput, IntegrityError, NotFound
from ocrbatch.layout import DATASETS_PREFIX, MANIFEST_NAME, DatasetLayout, parse_dataset_version
from ocrbatch.storage import ObjectStore


@dataclass(frozen=True)
class DamagedVersion:
    """A version whose manifest cannot be trusted: listed apart, never used."""

    name: str
    version_id: str
    uri: str
    problem: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version_id}"

    def to_json(self) -> dict:
        return {"name": self.name, "version_id": self.version_id, "ref": self.ref, "uri": self.uri, "problem": self.problem}


def _manifests(store: ObjectStore, prefix: str, damaged: list[DamagedVersion] | None = None) -> list[dict]:
    """The readable manifests under ``prefix``; the others go to ``damaged`` (one broken version
    must not hide the rest)."""
    with naming(store, prefix, "list"):
        keys = [(info.key, parsed) for info in store.list(prefix) if (parsed := _manifest_key(info.key))]
    if not keys:
        return []

    def load(item) -> dict | DamagedVersion | None:
        key, (name, version_id) = item
        try:
            with naming(store, key, "download"):
                return read_manifest(store, name, version_id)
        except NotFound:  # deleted between list and get
            return None
        except IntegrityError as err:
            return DamagedVersion(name, version_id, store.uri(DatasetLayout(name).version(version_id)), str(err))

    manifests = []
    with ThreadPoolExecutor(max_workers=min(16, len(keys))) as pool:
        for loaded in pool.map(load, keys):
            if isinstance(loaded, DamagedVersion):
                if damaged is not None:
                    damaged.append(loaded)
            elif loaded is not None:
                manifests.append(loaded)
    return manifests


def _manifest_key(key: str) -> tuple[str, str] | None:
    parsed = parse_dataset_version(key)
    if parsed is None or not key.endswith("/" + MANIFEST_NAME) or DatasetLayout(parsed[0]).manifest(parsed[1]) != key:
        return None
    return parsed


def newest_manifest(store: ObjectStore, name: str) -> dict | None:
    manifests = _manifests(store, DatasetLayout(name).versions)
    return max(manifests, key=lambda m: m["created_at"]) if manifests else None


def scan_versions(store: ObjectStore, name: str | None = None) -> tuple[list[DatasetVersion], list[DamagedVersion]]:
    """Every published version (of ``name``, or of all datasets), newest first, and the damaged ones."""
    prefix = DatasetLayout(check_name(name)).versions if name else DATASETS_PREFIX
    damaged: list[DamagedVersion] = []
    versions = [DatasetVersion.from_manifest(store, m) for m in _manifests(store, prefix, damaged)]
    versions.sort(key=lambda v: (-v.created_at, v.name, v.version_id))
    return versions, sorted(damaged, key=lambda d: (d.name, d.version_id))


def list_versions(store: ObjectStore, name: str | None = None) -> list[DatasetVersion]:
    """Every intact published version (of ``name``, or of all datasets), newest first."""
    return scan_versions(store, name)[0]


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
        parsed = parse_dataset_version(key)
        if parsed is None or key.rstrip("/") not in (DatasetLayout(parsed[0]).version(parsed[1]), DatasetLayout(parsed[0]).manifest(parsed[1])):
            raise BadInput(f"{ref!r} is not a dataset version key (datasets/<name>/versions/<id>)")
        with naming(store, key, "download"):
            return read_manifest(store, *parsed)
    name, _, id_prefix = key.partition("@")
    check_name(name)
    damaged: list[DamagedVersion] = []
    candidates = _manifests(store, DatasetLayout(name).versions + id_prefix, damaged)
    if damaged and (not id_prefix or not candidates):
        # Which version is newest cannot be told while one manifest is unreadable: do not guess.
        raise IntegrityError(
            f"dataset {name!r} has a damaged version ({damaged[0].ref}): {damaged[0].problem}"
            + ("; or name an intact version as NAME@ID (see `ocrbatch datasets`)" if candidates else "")
        )
    if not candidates:
        what = f"no version of dataset {name!r} starts with {id_prefix!r}" if id_prefix else f"no dataset {name!r}"
        raise NotFound(f"{what} in {store.uri(DATASETS_PREFIX)} (see `ocrbatch datasets`)")
    if id_prefix and len(candidates) + len(damaged) > 1:
        ids = ", ".join(sorted([m["version_id"] for m in candidates] + [d.version_id for d in damaged]))
        raise BadInput(f"{ref!r} is ambiguous: {ids}")
    return max(candidates, key=lambda m: m["created_at"])


def _key_from_uri(store: ObjectStore, uri: str) -> str:
    base = store.uri("")
    if not base.endswith("/"):
        base += "/"
    if not uri.startswith(base):
        raise BadInput(f"{uri} is not in this store ({store.uri('')})")
    return uri[len(base) :]
