"""`ocrbatch label`: a model pre-labels a folder of photos in PPOCRLabel's formats, least confident
first for review, without overwriting labels a person may have checked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_runner import run_local
from tests.predict.conftest import frame_labels

pytestmark = pytest.mark.slow


def command(home: Path, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess:
    """An ocrbatch command in its own process, as a user runs it. (In this test process, which has
    loaded paddle, validation's worker processes forked from it hung on an inherited lock.)"""
    env = {**os.environ, "OCRBATCH_HOME": str(home), "OCRBATCH_BACKEND": "local"}
    done = subprocess.run([sys.executable, "-m", "ocrbatch", *args], capture_output=True, text=True, env=env,
                          timeout=600)
    if expect is not None:
        assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
    return done


@pytest.fixture
def photos(tmp_path, held_out_frames) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for image, _ in frame_labels(held_out_frames)[:3]:
        shutil.copy(image, folder / image.name)
    return folder


def test_label_with_a_detector_writes_ppocrlabel_files(tmp_path, photos, detector, recognizer):
    from ocrbatch.synth.opencv import cv2

    det_dir, _ = detector
    summary = json.loads(run_local(tmp_path, "label", str(photos), "--model", str(recognizer), "--det-model", str(det_dir),
                                   "--json").stdout)
    assert summary["images"] == 3 and summary["detector"]["path"] == str(det_dir)
    label_lines = (photos / "Label.txt").read_text(encoding="utf-8").splitlines()
    assert (photos / "Cache.cach").read_text(encoding="utf-8").splitlines() == label_lines
    assert (photos / "fileState.txt").read_text() == ""  # nothing checked by a person yet
    boxes = 0
    for line in label_lines:
        key, _, raw = line.partition("\t")
        folder, name = key.split("/")
        assert folder == "photos" and (photos / name).is_file()
        for box in json.loads(raw):
            assert set(box) == {"transcription", "points", "difficult"} and len(box["points"]) == 4
            boxes += 1
    rec_lines = (photos / "rec_gt.txt").read_text(encoding="utf-8").splitlines()
    assert len(rec_lines) == boxes == summary["boxes"]
    for line in rec_lines:
        crop, _, _ = line.partition("\t")
        assert crop.startswith("crop_img/") and cv2.imread(str(photos / crop)) is not None
    scores = [float(line.split("\t")[0]) for line in (photos / "review.txt").read_text().splitlines()]
    assert scores == sorted(scores)
    record = json.loads((photos / "prelabel.json").read_text())
    assert record["recognizer"]["path"] == str(recognizer) and record["written_by"] == "ocrbatch label"


def test_label_keeps_existing_labels_unless_forced(tmp_path, photos, recognizer):
    (photos / "Label.txt").write_text("photos/x.jpg\t[]\n", encoding="utf-8")
    refused = run_local(tmp_path, "label", str(photos), "--model", str(recognizer), expect=2)
    assert "already has Label.txt" in refused.stderr and "--force" in refused.stderr
    assert (photos / "Label.txt").read_text(encoding="utf-8") == "photos/x.jpg\t[]\n"
    run_local(tmp_path, "label", str(photos), "--model", str(recognizer), "--force")
    assert len((photos / "Label.txt").read_text(encoding="utf-8").splitlines()) == 3


def test_label_without_a_detector_takes_each_image_as_one_line(tmp_path, photos, recognizer):
    from PIL import Image

    summary = json.loads(run_local(tmp_path, "label", str(photos), "--model", str(recognizer), "--json").stdout)
    assert summary["boxes"] == 3 and summary["detector"] is None
    for line in (photos / "Label.txt").read_text(encoding="utf-8").splitlines():
        key, _, raw = line.partition("\t")
        (box,) = json.loads(raw)
        with Image.open(photos / key.split("/")[1]) as image:
            assert box["points"][2] == [image.width - 1, image.height - 1]


def test_bad_folders_and_models_end_in_one_line(tmp_path, photos, detector, recognizer):
    det_dir, _ = detector
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "holds no images" in run_local(tmp_path, "label", str(empty), "--model", str(recognizer), expect=2).stderr
    wrong = run_local(tmp_path, "label", str(photos), "--model", str(det_dir), expect=2)
    assert "is a detection model; it needs a recognition model" in wrong.stderr
    assert not (photos / "Label.txt").exists()


def test_a_labelled_folder_reimports_as_a_dataset_with_its_lineage(tmp_path, photos, recognizer):
    from ocrbatch.datasets import ppocrlabel

    run_local(tmp_path, "label", str(photos), "--model", str(recognizer))
    unchecked = json.loads(command(tmp_path, "validate", str(photos), "--json", expect=None).stdout)
    assert unchecked["source"]["unchecked_images"] == 3  # nobody has reviewed the model's labels yet
    # a person checks every image in PPOCRLabel, which lists them in fileState.txt
    ppocrlabel.write_file_state(photos, [path.name for path in sorted(photos.glob("*.jpg"))])
    report = json.loads(command(tmp_path, "validate", str(photos), "--json").stdout)
    assert report["source"]["format"] == "ppocrlabel" and report["source"]["unchecked_images"] == 0
    lineage = report["source"]["prelabelled_by"]
    assert lineage["written_by"] == "ocrbatch label" and lineage["recognizer"]["path"] == str(recognizer)
    command(tmp_path, "upload", str(photos), "--json")
    (manifest,) = [json.loads(p.read_text()) for p in (tmp_path / "store" / "datasets").rglob("manifest.json")]
    assert manifest["source"]["prelabelled_by"] == lineage


def test_a_box_read_as_nothing_is_left_for_review_not_written_as_an_empty_crop_label(tmp_path):
    from PIL import Image

    from ocrbatch.datasets import ppocrlabel
    from ocrbatch.predict.frames import FrameReading, TextBox
    from ocrbatch.predict.prelabel import REVIEW_FILE, write_ppocrlabel_folder

    Image.new("RGB", (200, 80), "black").save(tmp_path / "frame.png")
    boxes = [TextBox([[10, 10], [90, 10], [90, 40], [10, 40]], "1,250", 0.97),
             TextBox([[100, 10], [190, 10], [190, 40], [100, 40]], "", 0.0)]
    counts = write_ppocrlabel_folder(tmp_path, [FrameReading(str(tmp_path / "frame.png"), boxes)])

    assert [crop.text for crop in ppocrlabel.read_rec_gt(tmp_path)] == ["1,250"]
    assert counts["boxes"] == 1
    assert len(ppocrlabel.read_label_file(tmp_path)[0].boxes) == 2  # the box stays for the user to type
    assert (tmp_path / REVIEW_FILE).read_text().splitlines()[0].endswith("\t1\t(read nothing)")


def test_predict_and_label_print_no_start_up_notices(tmp_path, photos, detector, recognizer):
    """What a user sees is the result: no paddlex "Creating model" lines, no ccache warning."""
    det_dir, _ = detector
    image = sorted(photos.iterdir())[0]
    read = command(tmp_path / "home", "predict", "--model", str(recognizer), str(image))
    labelled = command(tmp_path / "home", "label", str(photos), "--model", str(recognizer), "--det-model", str(det_dir))
    for done in (read, labelled):
        assert "Creating model" not in done.stderr and "ccache" not in done.stderr, done.stderr
    assert read.stdout.startswith(str(image)) and "labelled 3 image(s)" in labelled.stdout
