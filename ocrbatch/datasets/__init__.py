"""Datasets: validate a labelled folder, publish it as an immutable version, fetch it back.

The dataset folder convention (what ``ocrbatch upload DIR`` and ``ocrbatch validate DIR`` accept):

* ``DIR`` holds a train and (optionally) a val label file at its top level. Accepted names, per split:
  ``train.txt`` / ``val.txt`` (preferred), PaddleOCR's ``rec_gt_train.txt`` / ``rec_gt_val.txt``,
  ``det_gt_train.txt`` / ``det_gt_val.txt``, ``train_list.txt`` / ``val_list.txt`` and
  ``train_label.txt`` / ``val_label.txt``; a ``test`` file of the same families (``rec_gt_test.txt``
  ...) serves as val when there is no val file. Without either, a few percent of the images are held
  out as val, chosen by content (``split``): PaddleOCR evaluates on it.
* Or ``DIR`` is a folder labelled in PPOCRLabel (``Label.txt``, ``fileState.txt``, ``rec_gt.txt`` +
  ``crop_img/``), read as it is (``ppocrlabel`` reads and writes its files, ``ppocrlabel_import`` says
  what becomes of them).
* Each line is ``relative/image/path<TAB>label``, UTF-8, paths relative to ``DIR`` (no absolute
  paths, no ``..`` or symlinks leading out of ``DIR``).
  Recognition (``rec``): the label is the text, e.g. ``crops/0001.png<TAB>1,234,560``.
  Detection (``det``): the label is a JSON list of boxes,
  ``frames/0001.jpg<TAB>[{"transcription": "1,234,560", "points": [[x, y], [x, y], [x, y], [x, y]]}]``
  (``"###"`` marks a box to ignore). The task is taken from ``--task``, else from a ``det_gt``/``rec_gt``
  file name, else from the labels themselves.
* Images are files PaddleOCR (OpenCV) can decode: JPEG, PNG, BMP, TIFF, WebP.

A published version is content-addressed and immutable, and everything in it is checked from its
version id down (``manifest.py``); fetching it writes ``train.txt``, ``val.txt`` and the images into
a folder in PaddleOCR's layout, all or nothing (``fetch.py``). Uploading a folder again re-sends
whatever the store has lost; :func:`verify_versions` reads every version back and names the damage.

Public API: :func:`validate_dataset`, :func:`publish_dataset`, :func:`fetch_dataset`,
:func:`list_versions`, :func:`scan_versions` (with the damaged versions), :func:`resolve_version`,
:func:`planned_version_id` (the id a folder would publish under),
:func:`verify_versions`, :class:`DatasetVersion`, :class:`ValidationReport`.
Progress callbacks take ``(stage, done, total)``: ``validating`` counts images, ``uploading`` and
``downloading`` count bytes, ``verifying`` counts versions.
"""

from __future__ import annotations

import importlib

# name -> submodule. Loaded on first use (PEP 562), so `ocrbatch upload` does not pay for the fetch
# side's imports, nor `fetch` for validation's: every command's start-up counts against the peers.
_EXPORTS = {
    "DatasetVersion": "manifest",
    "InvalidDataset": "validation",
    "Problem": "validation",
    "ValidationReport": "validation",
    "fetch_dataset": "fetch",
    "list_versions": "catalog",
    "planned_version_id": "versions",
    "publish_dataset": "versions",
    "resolve_version": "catalog",
    "scan_versions": "catalog",
    "verify_versions": "checks",
    "validate_dataset": "validation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
