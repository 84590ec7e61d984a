"""What the trainer works out for the page: groups, worst mistakes with their crops, confusions, and
the dataset's summary."""

import base64
import io
import json

from PIL import Image

from ocrbatch.datasets.local_dataset import LocalDataset
from ocrbatch.trainer import findings


def crop(path, colour=(20, 20, 20), size=(96, 32)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def decoded(uri):
    assert uri.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_edit_operations_name_substitutions_misses_and_additions():
    assert findings.edit_operations("1,234", "1,284") == [("3", "8")]
    assert findings.edit_operations("1,234", "1234") == [(",", "")]
    assert findings.edit_operations("99", "909") == [("", "0")]
    assert findings.edit_operations("same", "same") == []


def test_label_lengths_group_one_by_one_or_in_ranges():
    assert findings.length_groups([1, 3, 3]) == ["1", "3", "3"]
    ranged = findings.length_groups(list(range(1, 31)))
    assert ranged[0] == "1-3" and ranged[-1] == "28-30" and len(set(ranged)) == 10


def test_looks_come_from_folders_or_from_the_generators_names():
    assert findings.looks_of(["a/1.jpg", "b/2.jpg"]) == ["a", "b"]
    names = ["images/000001_seg7.jpg", "images/000002_dmd_photo.jpg", "images/000003_lcd.jpg"]
    assert findings.looks_of(names) == ["seg7", "photo", "lcd"]
    assert findings.looks_of(["images/a.jpg", "images/b.jpg"]) is None  # the dataset does not say
    assert findings.looks_of(["images/000001_seg7.jpg", "images/000002_seg7.jpg"]) is None  # one look: no groups


def test_the_worst_mistakes_come_first_with_their_crops(tmp_path):
    paths = [f"images/{i:06d}_{look}.jpg" for i, look in enumerate(["seg7", "seg7", "dmd", "dmd", "lcd"])]
    for index, path in enumerate(paths):
        crop(tmp_path / path, (40 * index, 90, 200), size=(200, 50))
    truths = ["1,000", "250", "77", "12,345", "5"]
    predictions = ["1,000", "260", "", "12,345", "8"]
    scores = [0.99, 0.7, 0.2, 0.95, 0.9]
    found = findings.examine_recognition(paths, truths, predictions, scores, tmp_path)

    assert found["samples"] == 5 and found["mistakes_total"] == 3
    assert found["overall"]["accuracy"] == 0.4
    # All of "77" and all of "5" wrong beat one digit of "250"; the more confident of the two first.
    assert [m["truth"] for m in found["mistakes"]] == ["5", "77", "250"]
    image = decoded(found["mistakes"][0]["image"])
    assert image.height == findings.THUMB_HEIGHT and image.width == 192
    looks = {row["group"]: row for row in found["groups"]["look"]}
    assert looks["seg7"]["samples"] == 2 and looks["seg7"]["accuracy"] == 0.5
    assert looks["dmd"]["accuracy"] == 0.5 and looks["lcd"]["accuracy"] == 0.0
    assert [row["group"] for row in found["groups"]["label length"]] == ["1", "2", "3", "5", "6"]
    confusions = {(c["truth"], c["prediction"]): c["count"] for c in found["confusions"]}
    assert confusions == {("5", "8"): 1, ("7", ""): 2, ("5", "6"): 1}
    json.dumps(found)  # it travels as JSON


def test_an_unreadable_crop_leaves_its_mistake_without_an_image(tmp_path):
    found = findings.examine_recognition(["gone.jpg"], ["1"], ["2"], [0.5], tmp_path)
    assert found["mistakes"][0]["image"] is None


def test_the_dataset_summary_counts_splits_characters_and_shows_samples(tmp_path):
    lines = []
    for index in range(20):
        crop(tmp_path / f"images/{index}.jpg")
        lines.append(f"images/{index}.jpg\t{index * 7}")
    (tmp_path / "train.txt").write_text("\n".join(lines[:15]) + "\n")
    (tmp_path / "val.txt").write_text("\n".join(lines[15:]) + "\n")
    dataset = LocalDataset(tmp_path, "rec", tmp_path / "train.txt", tmp_path / "val.txt", tuple("0123456789"), "uri")
    summary = findings.dataset_summary(dataset)
    assert summary["counts"] == {"train": 15, "val": 5}
    texts = [str(i * 7) for i in range(20)]
    assert sum(summary["characters"].values()) == sum(len(t) for t in texts)
    assert summary["label_lengths"] == {1: 2, 2: 13, 3: 5}
    assert len(summary["samples"]) == findings.SAMPLES
    assert all(decoded(s["image"]).height == findings.THUMB_HEIGHT for s in summary["samples"])


def test_a_detection_dataset_shows_its_frames_with_the_boxes_drawn(tmp_path):
    crop(tmp_path / "f.jpg", (255, 255, 255), size=(640, 320))
    box = [{"transcription": "1,000", "points": [[10, 10], [300, 10], [300, 100], [10, 100]]}]
    (tmp_path / "train.txt").write_text(f"f.jpg\t{json.dumps(box)}\n")
    dataset = LocalDataset(tmp_path, "det", tmp_path / "train.txt", tmp_path / "val.txt", tuple("0,1"), "uri")
    summary = findings.dataset_summary(dataset)
    assert summary["counts"] == {"train": 1, "val": 0, "boxes": 1}
    frame = decoded(summary["samples"][0]["image"]).convert("RGB")
    assert frame.width == 320 and frame.getpixel((250, 120))[0] > 200  # outside the box: still white
    red, green, blue = frame.getpixel((5, 30))  # on the labelled box's left edge (scaled by half): blue
    assert blue > 150 and red < 150
    assert summary["samples"][0]["label"] == "1,000"
