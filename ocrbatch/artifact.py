"""The trained-model artifact: published by the trainer, downloaded and verified by the CLI.

A run's ``model/`` prefix holds the inference model (``inference.json`` + ``inference.pdiparams`` +
``inference.yml``), the character dict, ``metrics.json``, the exact training config and the dataset
version, then ``manifest.json`` with every file's size and sha256. The manifest is written last, so
its presence is what "published" means; a reader never sees a half-published model.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from ocrbatch.digests import folder_entries, matches_entry
from ocrbatch.errors import BadInput, IntegrityError, NotFound
from ocrbatch.layout import MANIFEST_NAME, METRICS_NAME
from ocrbatch.storage import ObjectStore, Progress

# Files a complete recognition artifact must contain (the model graph may also be the old-IR
# inference.pdmodel, which PaddleOCR's exporter writes on older versions).
REQUIRED_FILES = ("inference.pdiparams", "inference.yml", METRICS_NAME)
GRAPH_FILES = ("inference.json", "inference.pdmodel")



def build_manifest(local_dir: Path, **extra) -> dict:
    files = folder_entries(local_dir, skip=(MANIFEST_NAME,))
    missing = [name for name in REQUIRED_FILES if name not in files]
    if not any(name in files for name in GRAPH_FILES):
        missing.append(" or ".join(GRAPH_FILES))
    if missing:
        raise IntegrityError(f"model folder {local_dir} is incomplete: missing {', '.join(missing)}")
    return {"format": 1, "created_at": time.time(), "files": files, **extra}


def publish_artifact(store: ObjectStore, prefix: str, local_dir: Path, **extra) -> dict:
    """Upload every file of ``local_dir`` under ``prefix``, then the manifest (last)."""
    manifest = build_manifest(local_dir, **extra)
    for name in manifest["files"]:
        store.put_file(prefix + name, local_dir / name)
    store.put_bytes(prefix + MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return manifest


def read_manifest(store: ObjectStore, prefix: str) -> dict:
    try:
        return json.loads(store.get_bytes(prefix + MANIFEST_NAME))
    except NotFound:
        raise NotFound(f"no published model at {store.uri(prefix)} (the run has not finished)") from None


def verify_folder(folder: Path, manifest: dict) -> None:
    for name, meta in manifest["files"].items():
        path = folder / name
        if not path.is_file():
            raise IntegrityError(f"{path} is missing")
        if not matches_entry(path, meta):
            raise IntegrityError(f"{path} does not match its manifest (corrupt or truncated)")


def staging_folder(dest: Path) -> Path:
    """Where a download into ``dest`` is staged: beside it, or inside it when ``dest`` is a mount point
    (files move into place by rename, which cannot cross file systems)."""
    if dest.is_dir() and dest.stat().st_dev != dest.parent.stat().st_dev:
        return dest
    return dest.parent


def refuse_occupied(dest: Path) -> None:
    """Refuse, before a job is trained for ``dest``, what :func:`download_artifact` would refuse
    without ``force`` after it: a newly trained model always differs from one already there."""
    dest = Path(dest)
    if (dest / MANIFEST_NAME).is_file():
        raise BadInput(f"{dest} already holds a model; pass --force to replace it, or another --output-dir")
    if dest.is_dir() and any(dest.iterdir()):
        raise BadInput(f"{dest} is not empty; pass --force to write the model there anyway, or another --output-dir")


def download_artifact(
    store: ObjectStore, prefix: str, dest: Path, *, force: bool = False, progress: Progress | None = None
) -> dict:
    """Download and verify the model under ``prefix`` into ``dest``.

    The files land in a temporary sibling folder first and are moved into place only once every
    hash matches, so a failed download never leaves a mixed model behind. A ``dest`` that already
    holds a different model is refused unless ``force``; the same model is a no-op.
    """
    manifest = read_manifest(store, prefix)
    dest = Path(dest)
    existing = dest / MANIFEST_NAME
    if existing.is_file():
        try:
            current = json.loads(existing.read_text())
        except ValueError:
            current = None
        if current and current.get("files") == manifest["files"]:
            verify_folder(dest, manifest)
            return manifest
        if not force:
            raise BadInput(f"{dest} already holds a different model; pass --force to replace it")
    elif dest.exists() and any(dest.iterdir()) and not force:
        raise BadInput(f"{dest} is not empty; pass --force to write the model there anyway")

    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ocrbatch-download-", dir=staging_folder(dest)))
    try:
        for name in manifest["files"]:
            store.get_file(prefix + name, staging / name, progress=progress)
        verify_folder(staging, manifest)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        dest.mkdir(parents=True, exist_ok=True)
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                target = dest / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                path.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest
