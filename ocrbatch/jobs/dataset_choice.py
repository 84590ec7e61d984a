"""Which dataset version a training command (submit, pipeline, sweep) trains on.

The rule for ``--dataset`` (alias ``--training-data``), one for every training command:

* a value that looks like a path (it has a ``/``, or is ``.``, ``..`` or starts with ``~``) is a
  folder: it is validated and uploaded first, with the same folder options ``upload`` takes;
* anything else names a published version: ``NAME`` (its newest version), ``NAME@ID`` or its URI.

A bare word never uploads, whatever is in the current directory: the same command does the same thing
the first time and the tenth, and an edited folder is never taken for its last upload nor the other
way round. When a folder of that name is here too, the command says which one it took and how to
upload the folder instead (``./NAME``); when no version has the name but such a folder exists, it stops
(exit 2) and says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ocrbatch.errors import BadInput, NotFound
from ocrbatch.layout import DATASETS_PREFIX, DatasetLayout
from ocrbatch.storage import ObjectStore

SHOWN_WARNINGS = 10


@dataclass(frozen=True)
class DatasetChoice:
    """What a training command was told about its dataset: ``ref`` (a version or a folder, see the
    module's rule; None: the newest version) and the options for a folder it uploads."""

    ref: str | Path | None = None  # a Path is always a folder (code that holds one means it)
    name: str | None = None  # a folder's dataset name (default: the folder's name)
    val_fraction: float | None = None
    include_unchecked: bool = False
    skip_bad: bool = False

    def folder(self) -> Path | None:
        """The folder to upload, or None when ``ref`` names a published version."""
        if self.ref is None:
            return None
        if isinstance(self.ref, Path):
            return self.ref
        return folder_named(self.ref)

    def folder_options(self) -> list[str]:
        """The folder-only options given (as flags), for saying they do not apply to a version."""
        given = {"--dataset-name": self.name is not None, "--val-fraction": self.val_fraction is not None,
                 "--include-unchecked": self.include_unchecked, "--skip-bad": self.skip_bad}
        return [flag for flag, used in given.items() if used]


def looks_like_path(ref: str) -> bool:
    return "/" in ref or os.sep in ref or ref in (".", "..") or ref.startswith("~")


def names_a_version(ref: str) -> bool:
    """Whether ``ref`` is written as a published version (NAME, NAME@ID, a URI or store key), not a path."""
    ref = ref.strip()
    return "://" in ref or ref.startswith(DATASETS_PREFIX) or not looks_like_path(ref)


def folder_named(ref: str) -> Path | None:
    """The folder ``ref`` names, or None when it names a published version (see the module's rule)."""
    ref = ref.strip()
    if "://" in ref or not looks_like_path(ref):
        return None
    folder = Path(ref).expanduser()
    if folder.is_dir():
        return folder
    if names_a_version(ref):  # a version's store key, datasets/<name>/versions/<id>
        return None
    raise BadInput(f"dataset folder not found: {ref}")


def resolve_dataset(
    store: ObjectStore,
    choice: DatasetChoice,
    *,
    task: str | None = None,
    say: Callable[[str], None] = lambda line: None,
    progress: Callable | None = None,
):
    """The :class:`~ocrbatch.datasets.DatasetVersion` ``choice`` means: a folder's (validated, its
    warnings said, then published), the version named, or the newest one."""
    if choice.ref is None:
        version = newest_dataset(store)
        say(f"no --dataset given: using the newest dataset version, {version.uri}")
        return version
    if isinstance(choice.ref, str) and not choice.ref.strip():
        raise BadInput("--dataset is required: a dataset version (name, name@version, URI) or a folder")
    folder = choice.folder()
    if folder is not None:
        return publish_folder(store, folder, choice, task=task, say=say, progress=progress)
    return named_version(store, choice, say=say)


def named_version(store: ObjectStore, choice: DatasetChoice, *, say: Callable[[str], None]):
    from ocrbatch.datasets import resolve_version

    ref = choice.ref.strip()
    here = Path(ref)
    try:
        version = resolve_version(store, ref)
    except NotFound as missing:
        if here.is_dir():
            raise BadInput(
                f"{missing}; to upload the folder {ref} and train on it, write it as a path: --dataset ./{ref}"
            ) from None
        raise
    flags = choice.folder_options()
    if flags:
        raise BadInput(f"{', '.join(flags)} {'applies' if len(flags) == 1 else 'apply'} to a folder being uploaded, "
                       f"and {ref!r} names the published version {version.ref}"
                       + (f" (for the folder: --dataset ./{ref})" if here.is_dir() else ""))
    if here.is_dir():
        say(f"{ref!r} names the published dataset: using {version.ref}, not the folder ./{ref} "
            f"(to upload the folder and train on it: --dataset ./{ref})")
    return version


def publish_folder(store: ObjectStore, folder: Path, choice: DatasetChoice, *, task: str | None,
                   say: Callable[[str], None], progress: Callable | None):
    """Validate ``folder`` (its warnings said: images left out, lines skipped), then publish it."""
    from ocrbatch.datasets import publish_dataset

    name = folder_dataset_name(folder, choice)
    say(f"uploading the folder {folder} as dataset {name} to {store.uri()} ...")
    report = checked_folder(folder, choice, task=task, say=say, progress=progress)
    return publish_dataset(store, folder, name=name, report=report, progress=progress)


def planned_version(store: ObjectStore, folder: Path, choice: DatasetChoice, *, task: str | None,
                    say: Callable[[str], None], progress: Callable | None) -> tuple[str, str]:
    """What :func:`publish_folder` would publish, sending nothing (a dry run): the version's URI and task."""
    from ocrbatch.datasets import planned_version_id

    report = checked_folder(folder, choice, task=task, say=say, progress=progress)
    layout = DatasetLayout(folder_dataset_name(folder, choice))
    return store.uri(layout.version(planned_version_id(report))), report.task


def checked_folder(folder: Path, choice: DatasetChoice, *, task: str | None, say: Callable[[str], None],
                   progress: Callable | None):
    """The folder's validation report, its warnings said; raises InvalidDataset (exit 2) on errors."""
    from ocrbatch.datasets import InvalidDataset, validate_dataset

    report = validate_dataset(folder, task=task, skip_bad=choice.skip_bad, progress=progress,
                              val_fraction=choice.val_fraction, include_unchecked=choice.include_unchecked)
    for problem in report.warnings[:SHOWN_WARNINGS]:
        say(f"warning: {problem}")
    if len(report.warnings) > SHOWN_WARNINGS:
        say(f"... and {len(report.warnings) - SHOWN_WARNINGS} more warnings (`ocrbatch validate {folder}` lists all)")
    if not report.ok:
        raise InvalidDataset(report)
    return report


def folder_dataset_name(folder: Path, choice: DatasetChoice) -> str:
    from ocrbatch.datasets.manifest import check_name

    return check_name(choice.name) if choice.name else dataset_name_for(folder)


def newest_dataset(store: ObjectStore, *, versions: Callable | None = None):
    """The most recently published dataset version: what the seed's `submit` (no dataset flag) used."""
    if versions is None:
        from ocrbatch.datasets import list_versions as versions
    found = versions(store)
    if not found:
        raise BadInput(f"no dataset in {store.uri()} yet: pass --dataset DIR (or run `ocrbatch upload DIR` first)")
    return found[0]


def dataset_name_for(folder: Path) -> str:
    """The dataset name a folder publishes under when none is given."""
    from ocrbatch.datasets.manifest import name_from_folder

    return name_from_folder(folder.resolve().name)
