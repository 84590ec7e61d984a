"""A folder labelled in PPOCRLabel is a dataset as it is: validate, upload, fetch; bad files stop it
with one line each (exit 2) and nothing uploaded."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from dataset_builders import make_ppocrlabel
from ocrbatch.cli import app
from ocrbatch.datasets import fetch_dataset, publish_dataset, validate_dataset
from ocrbatch.storage import LocalStore

runner = CliRunner()


def messages(problems):
    return [str(p) for p in problems]


@pytest.fixture
def home(tmp_path, monkeypatch):
    for name in ("OCRBATCH_BACKEND", "OCRBATCH_HOME", "OCRBATCH_STACK", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return str(tmp_path / "home")


def test_exported_crops_are_a_rec_dataset_with_a_held_out_split(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=8)
    report = validate_dataset(folder)
    assert report.ok, report.errors
    assert report.task == "rec" and report.label_files["train"].name == "rec_gt.txt"
    assert report.counts["train"] + report.counts["val"] == 12  # 8 photos, every second with 2 boxes
    # One photo held out (5 % of 8, at least one), with every crop cut from it.
    held = {s.image for s in report.samples["val"]}
    photos = {p.split("_crop_")[0] for p in held}
    assert len(photos) == 1 and report.split.val_units == 1
    assert not any(s.image.split("_crop_")[0] in photos for s in report.samples["train"])
    assert report.origin["format"] == "ppocrlabel" and "PPOCRLabel dataset" in report.summary()


def test_det_reads_label_txt_without_the_folder_prefix(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=5)
    report = validate_dataset(folder, task="det")
    assert report.ok, report.errors
    assert report.label_files["train"].name == "Label.txt"
    assert {s.image for s in report.samples["train"] + report.samples["val"]} == {f"photo_{n:03d}.jpg" for n in range(5)}
    assert report.counts["boxes"] == 7


def test_unchecked_images_are_reported_and_left_out_unless_included(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=6, unchecked=(1, 4))
    report = validate_dataset(folder, task="det")
    assert report.ok, report.errors
    assert any("2 labelled image(s) not checked in PPOCRLabel: photo_001.jpg, photo_004.jpg: left out" in m
               for m in messages(report.warnings))
    used = {s.image for s in report.samples["train"] + report.samples["val"]}
    assert used == {"photo_000.jpg", "photo_002.jpg", "photo_003.jpg", "photo_005.jpg"}
    assert report.origin["unchecked_images"] == 2

    everything = validate_dataset(folder, task="det", include_unchecked=True)
    assert len(everything.images) == 6
    assert any("included (--include-unchecked)" in m for m in messages(everything.warnings))


def test_crops_are_cut_from_label_txt_when_not_exported(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=6, export_crops=False, unchecked=(5,))
    report = validate_dataset(folder)
    assert report.ok, report.errors
    assert report.label_files["train"].name == "Label.txt"
    paths = sorted(s.image for s in report.samples["train"] + report.samples["val"])
    assert paths[:3] == ["crop_img/photo_000_crop_0.png", "crop_img/photo_001_crop_0.png", "crop_img/photo_001_crop_1.png"]
    assert len(paths) == 7  # photo 5 (two boxes) is unchecked
    first = report.images["crop_img/photo_000_crop_0.png"]
    assert (first.width, first.height) == (78, 26)  # the 78x26 box
    tilted = report.images["crop_img/photo_001_crop_1.png"]
    assert tilted.width > tilted.height  # the small tilted box, straightened
    assert not (folder / "crop_img").exists()  # cut into ocrbatch's cache, not the user's folder
    assert report.origin["crops_cut_from_label_txt"] == 7

    again = validate_dataset(folder)  # the second time, from the cache: same files, same split
    assert again.images == report.images and again.samples == report.samples


def test_cut_crops_upload_and_fetch_back(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=4, export_crops=False)
    store = LocalStore(tmp_path / "store")
    version = publish_dataset(store, folder, name="photos")
    assert version.files == 6 and version.split["val_images"] == 1
    local = fetch_dataset(store, version.ref, tmp_path / "fetched")
    train = (local.train_labels).read_text().splitlines()
    val = (local.val_labels).read_text().splitlines()
    assert len(train) + len(val) == 6
    for line in train + val:
        crop = local.root / line.split("\t")[0]
        assert crop.is_file() and crop.read_bytes()[:4] == b"\x89PNG"


def test_stale_rec_gt_is_warned_about(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=3)
    lines = (folder / "rec_gt.txt").read_text().splitlines()
    lines[0] = lines[0].split("\t")[0] + "\t999"
    (folder / "rec_gt.txt").write_text("\n".join(lines) + "\n")
    report = validate_dataset(folder)
    assert report.ok
    assert any(m.startswith("rec_gt.txt:1: '999' differs from Label.txt's box 0 of photo_000.jpg") for m in messages(report.warnings))


@pytest.mark.parametrize(
    "damage, task, expected",
    [
        (lambda f: _edit_label(f, 1, lambda t: t[:-3]), "det", "error: Label.txt:2: detection label is not JSON"),
        (lambda f: _edit_label(f, 1, lambda t: t[:-3]), "rec-cut", "error: Label.txt:2: boxes are not JSON"),
        (lambda f: _edit_label(f, 2, lambda t: t.replace("[86, 36]", "[186, 36]")), "det",
         "error: Label.txt:3: a box lies outside the 96x48 image photo_002.jpg (replaced or rotated after labelling?)"),
        (lambda f: _edit_label(f, 2, lambda t: t.replace("[86, 36]", "[186, 36]")), "rec-cut",
         "error: Label.txt:3: box 1: lies outside the 96x48 image photo_002.jpg"),
        (lambda f: (f / "photo_003.jpg").unlink(), "det", "error: Label.txt:4: image not found: photo_003.jpg"),
        (lambda f: (f / "photo_003.jpg").unlink(), "rec-cut", "error: Label.txt:4: image not found: photo_003.jpg"),
        (lambda f: (f / "crop_img" / "photo_001_crop_1.jpg").unlink(), "rec",
         "error: rec_gt.txt:3: image not found: crop_img/photo_001_crop_1.jpg"),
        (lambda f: (f / "fileState.txt").write_text("no tab here\n"), "rec", "error: fileState.txt:1: no tab between image path and state"),
    ],
    ids=["json-det", "json-rec", "outside-det", "outside-rec", "image-det", "image-rec", "crop", "filestate"],
)
def test_bad_files_end_in_one_line_and_nothing_uploaded(tmp_path, home, damage, task, expected):
    folder = make_ppocrlabel(tmp_path / "photos", count=5, export_crops=task == "rec")
    damage(folder)
    args = ["upload", str(folder), "--local", "--home", home] + (["--task", "det"] if task == "det" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(expected), lines
    assert lines[-1].startswith("error: ") and "1 error(s)" in lines[-1] and "nothing was uploaded" in lines[-1]
    assert not os.path.exists(os.path.join(home, "store", "datasets"))


def _edit_label(folder, index, change):
    lines = (folder / "Label.txt").read_text(encoding="utf-8").splitlines()
    lines[index] = change(lines[index])
    (folder / "Label.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_cli_validate_and_upload_print_the_split(tmp_path, home):
    folder = make_ppocrlabel(tmp_path / "photos", count=10, unchecked=(9,))
    checked = runner.invoke(app, ["validate", str(folder), "--val-fraction", "0.2"])
    assert checked.exit_code == 0, checked.output
    assert "no val file: held out 2 of 9 images" in checked.stdout
    assert "warning: fileState.txt: 1 labelled image(s) not checked in PPOCRLabel: photo_009.jpg" in checked.stdout

    uploaded = runner.invoke(app, ["upload", str(folder), "--local", "--home", home, "--val-fraction", "0.2", "--json"])
    assert uploaded.exit_code == 0, uploaded.stderr
    version = json.loads(uploaded.stdout)
    assert version["split"]["val_images"] == 2 and version["split"]["fraction"] == 0.2
    assert "no val file: held out 2 of 9 images" in uploaded.stderr
    manifest = json.loads(next((tmp_path / "home").rglob("manifest.json")).read_text())
    assert manifest["content"]["split"]["val_images"] == 2
    assert manifest["source"]["format"] == "ppocrlabel" and manifest["source"]["unchecked_images"] == 1


def test_skip_bad_drops_a_broken_photo_and_keeps_the_rest(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=5, export_crops=False)
    (folder / "photo_003.jpg").unlink()
    report = validate_dataset(folder, skip_bad=True)
    assert report.ok and report.skipped == 1
    assert any(m.startswith("Label.txt:4: skipped: image not found") for m in messages(report.warnings))
    assert not any("photo_003" in s.image for s in report.samples["train"] + report.samples["val"])


def test_nothing_checked_says_what_to_do(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=3, unchecked=(0, 1, 2), export_crops=False)
    assert messages(validate_dataset(folder).errors) == [
        "Label.txt: none of its 3 image(s) is checked in PPOCRLabel (fileState.txt): check them there, "
        "or pass --include-unchecked (upload, submit, pipeline, sweep) to train on the labels as they are"
    ]
    assert validate_dataset(folder, include_unchecked=True).ok


def test_rec_gt_and_crops_alone_are_a_dataset(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=4)
    (folder / "Label.txt").unlink()
    (folder / "fileState.txt").unlink()
    report = validate_dataset(folder)
    assert report.ok, report.errors
    assert report.counts["train"] + report.counts["val"] == 6


def test_reordered_label_file_keeps_the_split(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=30, export_crops=False)
    first = validate_dataset(folder)
    lines = (folder / "Label.txt").read_text(encoding="utf-8").splitlines()
    (folder / "Label.txt").write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    again = validate_dataset(folder)
    assert again.samples["val"] == [s._replace(line=31 - s.line) for s in first.samples["val"]]
    assert first.split.val_units == 2
