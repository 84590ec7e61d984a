"""Validation of dataset folders: every problem found, with its file and line."""

from __future__ import annotations

import json
import os
import time

import pytest

from dataset_builders import image_bytes, make_dataset
from ocrbatch.datasets import validate_dataset
from ocrbatch.datasets import image_files
from ocrbatch.errors import BadInput


def messages(problems) -> list[str]:
    return [str(p) for p in problems]


def write_labels(folder, train: str, val: str | None = "imgs/0000.jpg\t0\n", encoding="utf-8"):
    (folder / "train.txt").write_bytes(train.encode(encoding) if isinstance(train, str) else train)
    if val is not None:
        (folder / "val.txt").write_text(val, encoding="utf-8")


def test_valid_recognition_dataset(dataset):
    report = validate_dataset(dataset)
    assert report.ok, report.errors
    assert report.task == "rec"
    assert report.counts["train"] == 8 and report.counts["val"] == 3 and report.counts["images"] == 11
    assert report.label_files == {"train": dataset / "train.txt", "val": dataset / "val.txt"}
    expected = set("".join(f"{n * 7 % 1000:,}" for n in range(11)))
    assert report.characters == tuple(sorted(expected))
    image = report.images["imgs/0001.png"]
    assert (image.width, image.height, image.format) == (12, 8, "PNG")
    assert report.warnings == []


def test_detection_dataset_is_detected(tmp_path):
    report = validate_dataset(make_dataset(tmp_path / "det", det=True))
    assert report.ok, report.errors
    assert report.task == "det"
    assert report.counts["boxes"] == 11


def test_paddleocr_label_file_names(tmp_path):
    folder = make_dataset(tmp_path / "d")
    (folder / "train.txt").rename(folder / "rec_gt_train.txt")
    (folder / "val.txt").rename(folder / "rec_gt_test.txt")
    report = validate_dataset(folder)
    assert report.ok, report.errors
    assert report.label_files["train"].name == "rec_gt_train.txt"
    assert report.label_files["val"].name == "rec_gt_test.txt"


def test_missing_val_split_is_held_out(dataset):
    (dataset / "val.txt").unlink()
    report = validate_dataset(dataset)
    assert report.ok, report.errors
    assert report.split is not None and report.counts == {**report.counts, "train": 7, "val": 1}
    assert "no val file: held out 1 of 8 images" in report.split.summary()


def test_missing_train_and_ambiguous_names(dataset):
    (dataset / "train.txt").rename(dataset / "notes.txt")
    (dataset / "val_list.txt").write_text("imgs/0000.jpg\t0\n")
    errors = messages(validate_dataset(dataset).errors)
    assert any("no train label file" in m for m in errors)
    assert any("ambiguous val split" in m for m in errors)


def test_empty_label_file(dataset):
    (dataset / "train.txt").write_text("\n\n")
    assert "train.txt: label file is empty" in messages(validate_dataset(dataset).errors)


@pytest.mark.parametrize(
    "line, expected",
    [
        ("imgs/0001.png", "no tab between image path and label"),
        ("imgs/0001.png\t", "empty label"),
        ("imgs/0001.png\t12\t34", "label contains a tab"),
        ("/etc/passwd\t12", "absolute image path"),
        ("C:\\data\\a.png\t12", "absolute image path"),
        ("../outside.png\t12", "escapes the dataset folder"),
        ("imgs/../../outside.png\t12", "escapes the dataset folder"),
        ("imgs/missing.png\t12", "image not found: imgs/missing.png"),
        ("imgs/0001.png\t1\x002", "control character in label"),
        ("train.txt\t1", "collides with the label file name"),
        ("imgs/0001.png\t" + "9" * 1001, "characters long (over 1,000)"),
        ("imgs/0001.png\t[" + "1" * 1_000_000 + "]", "not a label line"),
    ],
)
def test_bad_lines_are_reported_with_file_and_line(dataset, line, expected):
    write_labels(dataset, f"imgs/0001.png\t1\n{line}\n")
    report = validate_dataset(dataset)
    assert not report.ok
    assert [str(p) for p in report.errors if p.line == 2] and expected in str(report.errors[0]), report.errors
    assert report.errors[0].file == "train.txt" and report.errors[0].line == 2


def test_non_utf8_line(dataset):
    write_labels(dataset, "imgs/0001.png\t1\nimgs/0002.png\tcaf\xe9\n", encoding="latin-1")
    report = validate_dataset(dataset)
    assert messages(report.errors) == ["train.txt:2: line is not UTF-8 text"]


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is empty (0 bytes)"),
        (b"not an image at all", "does not decode"),
        (image_bytes(5, "PNG")[:-20], "truncated PNG"),
        (image_bytes(5, "JPEG")[:-2], "truncated JPEG"),
    ],
)
def test_broken_images(dataset, content, expected):
    (dataset / "imgs" / "0005.png").write_bytes(content)
    report = validate_dataset(dataset)
    assert len(report.errors) == 1, report.errors
    assert report.errors[0].file == "train.txt" and report.errors[0].line == 6
    assert expected in report.errors[0].message


def test_symlinks_leaving_the_folder_are_refused(dataset, tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(image_bytes(99))
    os.symlink(outside, dataset / "imgs" / "link.png")
    os.symlink(tmp_path, dataset / "escape")
    os.symlink(dataset / "imgs" / "0001.png", dataset / "imgs" / "inside.png")
    write_labels(dataset, "imgs/link.png\t1\nescape/outside.png\t2\nimgs/inside.png\t3\n")
    errors = messages(validate_dataset(dataset).errors)
    assert errors == [
        "train.txt:1: image imgs/link.png is a symlink that leaves the dataset folder",
        "train.txt:2: image escape/outside.png is reached through a symlink that leaves the dataset folder",
    ]


def test_crlf_bom_and_whitespace_are_warnings(dataset):
    (dataset / "train.txt").write_bytes(b"\xef\xbb\xbfimgs/0001.png\t12\r\nimgs/0002.png\t 34\r\n")
    report = validate_dataset(dataset)
    assert report.ok, report.errors
    warnings = messages(report.warnings)
    assert any("byte order mark" in w for w in warnings)
    assert "train.txt: Windows (CRLF) line endings converted to LF" in warnings
    assert any(w.startswith("train.txt:2:") and "whitespace" in w for w in warnings)
    assert [s.label for s in report.samples["train"]] == ["12", " 34"]


def test_duplicates_conflicts_and_split_leaks(dataset):
    write_labels(
        dataset,
        "imgs/0001.png\t1\n./imgs/0001.png\t1\nimgs/0002.png\t2\nimgs/0002.png\t3\n",
        val="imgs/0001.png\t1\n",
    )
    report = validate_dataset(dataset)
    assert messages(report.errors) == ["train.txt:4: imgs/0002.png is labelled again with a different label ('2' before)"]
    warnings = messages(report.warnings)
    assert "train.txt:2: duplicate entry for imgs/0001.png" in warnings
    assert any(w.startswith("val.txt:1:") and "both train and val" in w for w in warnings)


def test_skip_bad_drops_bad_lines_and_counts_them(dataset):
    write_labels(dataset, "imgs/0001.png\t1\nimgs/missing.png\t2\nno-tab-here\nimgs/0002.png\t2\n")
    report = validate_dataset(dataset, skip_bad=True)
    assert report.ok
    assert report.skipped == 2 and report.counts["skipped"] == 2
    assert [s.image for s in report.samples["train"]] == ["imgs/0001.png", "imgs/0002.png"]
    assert sum("skipped:" in w for w in messages(report.warnings)) == 2
    # A split with nothing usable left is still an error.
    write_labels(dataset, "imgs/missing.png\t2\n")
    assert "the train split has no usable lines" in " ".join(messages(validate_dataset(dataset, skip_bad=True).errors))


@pytest.mark.parametrize(
    "label, expected",
    [
        ("[{\"transcription\": \"1\"", "not JSON"),
        ("{\"a\": 1}", "JSON list of boxes"),
        ("[{\"transcription\": \"1\", \"points\": [[1, 1], [2, 2]]}]", "at least 4"),
        ("[{\"points\": [[1, 1], [2, 1], [2, 2], [1, 2]]}]", "expected"),
    ],
)
def test_bad_detection_labels(tmp_path, label, expected):
    folder = make_dataset(tmp_path / "det", det=True)
    (folder / "train.txt").write_text(f"imgs/0001.png\t{label}\n")
    report = validate_dataset(folder, task="det")
    assert len(report.errors) == 1 and expected in report.errors[0].message, report.errors


def test_detection_box_outside_image_warns(tmp_path):
    folder = make_dataset(tmp_path / "det", det=True)
    boxes = [{"transcription": "7", "points": [[1, 1], [50, 1], [50, 7], [1, 7]]}]
    (folder / "train.txt").write_text(f"imgs/0001.png\t{json.dumps(boxes)}\n")
    report = validate_dataset(folder)
    assert report.ok
    assert any("outside the 12x8 image" in w for w in messages(report.warnings))


def test_unknown_task_and_missing_folder(tmp_path, dataset):
    with pytest.raises(BadInput):
        validate_dataset(dataset, task="cls")
    with pytest.raises(BadInput):
        validate_dataset(tmp_path / "nope")


def test_second_validation_trusts_memoised_facts_until_a_file_changes(dataset, monkeypatch):
    first = validate_dataset(dataset)
    decoded = []
    real = image_files.inspect_image
    monkeypatch.setattr(image_files, "inspect_image", lambda data: decoded.append(1) or real(data))
    # Files written in this test are "racily clean" (too new to memoise): age them first.
    old = time.time() - 60
    for path in (dataset / "imgs").iterdir():
        os.utime(path, (old, old))
    validate_dataset(dataset)
    assert len(decoded) == 11
    decoded.clear()
    again = validate_dataset(dataset)
    assert decoded == []
    assert {p: i.sha256 for p, i in again.images.items()} == {p: i.sha256 for p, i in first.images.items()}
    (dataset / "imgs" / "0001.png").write_bytes(b"garbage now")
    changed = validate_dataset(dataset)
    assert decoded == [1]
    assert "does not decode" in changed.errors[0].message


def test_skip_bad_is_offered_only_for_errors_it_would_drop(dataset):
    from ocrbatch.datasets.validation import InvalidDataset

    write_labels(dataset, "imgs/missing.png\t2\n")
    assert "--skip-bad" in str(InvalidDataset(validate_dataset(dataset)))
    (dataset / "train.txt").unlink()  # no train file: dropping lines cannot help
    refused = str(InvalidDataset(validate_dataset(dataset)))
    assert "no train label file" in refused and "--skip-bad" not in refused and refused.endswith("fix them")
