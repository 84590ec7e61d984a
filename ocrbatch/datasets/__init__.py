"""Datasets: validate a labelled folder, publish it as an immutable version, fetch it back.

The dataset folder convention (what ``ocrbatch upload DIR`` and ``ocrbatch validate DIR`` accept):

* ``DIR`` holds one train and one val label file at its top level. Accepted names, per split:
  ``train.txt`` / ``val.txt`` (preferred), PaddleOCR's ``rec_gt_train.txt`` / ``rec_gt_val.txt``,
  ``det_gt_train.txt`` / ``det_gt_val.txt``, ``train_list.txt`` / ``val_list.txt`` and
  ``train_label.txt`` / ``val_label.txt``; a ``test`` file of the same families (``rec_gt_test.txt``
  ...) serves as val when there is no val file. A val split is required: PaddleOCR evaluates on it.
* Each line is ``relative/image/path<TAB>label``, UTF-8, paths relative to ``DIR`` (no absolute
  paths, no ``..`` or symlinks leading out of ``DIR``).
  Recognition (``rec``): the label is the text, e.g. ``crops/0001.png<TAB>1,234,560``.
  Detection (``det``): the label is a JSON list of boxes,
  ``frames/0001.jpg<TAB>[{"transcription": "1,234,560", "points": [[x, y], [x, y], [x, y], [x, y]]}]``
  (``"###"`` marks a box to ignore). The task is taken from ``--task``, else from a ``det_gt``/``rec_gt``
  file name, else from the labels themselves.
* Images are files PaddleOCR (OpenCV) can decode: JPEG, PNG, BMP, TIFF, WebP.

A published version is content-addressed and immutable (``manifest.py`` has the store layout);
fetching it writes ``train.txt``, ``val.txt`` and the images into a folder in PaddleOCR's layout.

Public API: :func:`validate_dataset`, :func:`publish_dataset`, :func:`fetch_dataset`,
:func:`list_versions`, :func:`resolve_version`, :class:`DatasetVersion`, :class:`ValidationReport`.
Progress callbacks take ``(stage, done, total)``: ``validating`` counts images, ``uploading`` and
``downloading`` count bytes.
"""

from ocrbatch.datasets.fetch import fetch_dataset
from ocrbatch.datasets.manifest import DatasetVersion
from ocrbatch.datasets.validation import InvalidDataset, Problem, ValidationReport, validate_dataset
from ocrbatch.datasets.versions import list_versions, publish_dataset, resolve_version

__all__ = [
    "DatasetVersion",
    "InvalidDataset",
    "Problem",
    "ValidationReport",
    "fetch_dataset",
    "list_versions",
    "publish_dataset",
    "resolve_version",
    "validate_dataset",
]
