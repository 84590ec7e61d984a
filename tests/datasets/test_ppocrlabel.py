"""PPOCRLabel's files: read as PPOCRLabel writes them, written so PPOCRLabel (and our reader) reads
them back, and boxes cut the way PaddleOCR cuts them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dataset_builders import make_ppocrlabel
from ocrbatch.datasets import ppocrlabel
from ocrbatch.datasets.crops import crop_box, min_area_rect
from ocrbatch.datasets.ppocrlabel import Box
from ocrbatch.errors import BadInput


def test_reads_label_file_state_and_rec_gt_as_ppocrlabel_writes_them(tmp_path):
    folder = make_ppocrlabel(tmp_path / "photos", count=4, unchecked=(2,))
    images = ppocrlabel.read_label_file(folder)
    assert [i.image for i in images] == [f"photo_{n:03d}.jpg" for n in range(4)]  # folder name dropped
    assert [i.line for i in images] == [1, 2, 3, 4]
    second = images[1]
    assert [b.transcription for b in second.boxes] == ["1,234", "P2"]
    assert second.boxes[0].points == ((8, 10), (86, 10), (86, 36), (8, 36))
    assert second.boxes[0].difficult is False and second.boxes[0].key_cls is None

    states = ppocrlabel.read_file_state(folder)  # absolute paths in the file
    assert states == {"photo_000.jpg": True, "photo_001.jpg": True, "photo_003.jpg": True}

    crops = ppocrlabel.read_rec_gt(folder)
    assert crops[0].crop == "crop_img/photo_000_crop_0.jpg" and crops[0].text == "0"
    assert ppocrlabel.source_of_crop(crops[2].crop) == ("photo_001", 1)


def test_windows_paths_renamed_folders_and_subfolders(tmp_path):
    folder = make_ppocrlabel(tmp_path / "renamed", count=2, windows_paths=True)
    assert set(ppocrlabel.read_file_state(folder)) == {"photo_000.jpg", "photo_001.jpg"}
    (folder / "sub").mkdir()
    (folder / "sub" / "x.png").write_bytes(b"png")
    assert ppocrlabel.image_of_key(folder, "old-name/photo_000.jpg") == "photo_000.jpg"
    assert ppocrlabel.image_of_key(folder, "/home/me/renamed/sub/x.png") == "sub/x.png"
    assert ppocrlabel.image_of_key(folder, "renamed/photo_001.jpg") == "photo_001.jpg"


def test_no_file_state_is_none(tmp_path):
    folder = make_ppocrlabel(tmp_path / "p", count=1)
    (folder / "fileState.txt").unlink()
    assert ppocrlabel.read_file_state(folder) is None


def test_writers_round_trip_in_ppocrlabels_own_layout(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    boxes = [Box("12,340", ((1, 2), (30, 2), (30, 12), (1, 12))), Box("kie", ((0, 0), (5, 0), (5, 5), (0, 5)), True, "score")]
    ppocrlabel.write_label_file(folder, [("a.jpg", boxes), ("b.jpg", boxes[:1])])
    ppocrlabel.write_file_state(folder, {"a.jpg": True, "b.jpg": False})
    ppocrlabel.write_rec_gt(folder, [(ppocrlabel.crop_name("a.jpg", 0), "12,340")])

    first = (folder / "Label.txt").read_text(encoding="utf-8").splitlines()[0]
    key, label = first.split("\t")
    assert key == "shots/a.jpg"
    assert json.loads(label)[0] == {"transcription": "12,340", "points": [[1, 2], [30, 2], [30, 12], [1, 12]], "difficult": False}
    assert json.loads(label)[1]["key_cls"] == "score"
    assert (folder / "fileState.txt").read_text() == "shots/a.jpg\t1\n"
    assert (folder / "rec_gt.txt").read_text() == "crop_img/a_crop_0.jpg\t12,340\n"

    again = ppocrlabel.read_label_file(folder)
    assert [(i.image, i.boxes) for i in again] == [("a.jpg", tuple(boxes)), ("b.jpg", tuple(boxes[:1]))]
    assert ppocrlabel.read_file_state(folder) == {"a.jpg": True}


@pytest.mark.parametrize(
    "line, message",
    [
        ("p/a.jpg [", "Label.txt:1: no tab"),
        ("p/a.jpg\t[{\"transcription\": \"1\"", "Label.txt:1: boxes are not JSON"),
        ("p/a.jpg\t{}", "Label.txt:1: boxes must be a JSON list"),
        ("p/a.jpg\t[{\"transcription\": \"1\", \"points\": [[0, 0], [1, 1]]}]", "Label.txt:1: box 1: points must be"),
    ],
)
def test_broken_label_lines_name_file_and_line(tmp_path, line, message):
    (tmp_path / "Label.txt").write_text(line + "\n")
    with pytest.raises(BadInput, match=message.replace("[", r"\[")):
        ppocrlabel.read_label_file(tmp_path)


def test_crop_matches_an_axis_aligned_box_and_turns_tall_text():
    image = Image.fromarray(np.arange(60 * 40 * 3, dtype=np.uint8).reshape(40, 60, 3) % 251)
    crop = crop_box(image, [[10, 5], [50, 5], [50, 25], [10, 25]])
    assert crop.size == (40, 20)
    assert np.abs(np.asarray(crop, dtype=int) - np.asarray(image.crop((10, 5, 50, 25)), dtype=int)).mean() < 1
    tall = crop_box(image, [[10, 0], [20, 0], [20, 30], [10, 30]])
    assert tall.size == (30, 10)  # turned a quarter, as PaddleOCR does for height/width >= 1.5


def test_crop_straightens_a_tilted_box():
    image = Image.new("L", (100, 100), 0)
    image.paste(255, (20, 40, 80, 60))
    tilted = image.rotate(20, resample=Image.Resampling.BICUBIC, center=(50, 50))
    angle = np.deg2rad(20)
    def turned(x, y):  # where Image.rotate(20) moved (x, y): counter-clockwise on screen
        dx, dy = x - 50, y - 50
        return [50 + dx * np.cos(angle) + dy * np.sin(angle), 50 - dx * np.sin(angle) + dy * np.cos(angle)]
    quad = [turned(20, 40), turned(80, 40), turned(80, 60), turned(20, 60)]
    crop = np.asarray(crop_box(tilted, quad))
    assert crop.shape == (20, 60)
    assert crop[3:-3, 3:-3].mean() > 200  # the band, straightened, fills the crop


def test_polygon_becomes_its_min_area_rectangle():
    angle = np.deg2rad(30)
    axis, normal = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    corners = [50 + a * axis + b * normal for a, b in ((-20, -5), (20, -5), (20, 5), (-20, 5))]
    polygon = np.array(corners + [(corners[0] + corners[1]) / 2, (corners[2] + corners[3]) / 2])  # 6 points
    rect = min_area_rect(polygon)
    assert sorted(map(tuple, rect.round(6))) == sorted(map(tuple, np.array(corners).round(6)))
    assert rect[0][0] < rect[1][0] and rect[3][1] > rect[0][1]  # top-left first, clockwise
    with pytest.raises(ValueError):
        crop_box(Image.new("RGB", (10, 10)), [[1, 1], [1, 1], [1, 1], [1, 1]])


PADDLEOCR_TREE = Path(__file__).resolve().parents[2].parent / "shared" / "paddleocr" / "src"


def test_crops_match_paddleocrs_own_cut():
    """Against PaddleOCR's get_rotate_crop_image (OpenCV) from the real tree: same size, same pixels
    within interpolation rounding, for straight, tilted, tall and fractional boxes."""
    pytest.importorskip("cv2")
    pytest.importorskip("paddle")
    if not PADDLEOCR_TREE.is_dir():
        pytest.skip(f"no PaddleOCR tree at {PADDLEOCR_TREE}")
    sys.path.insert(0, str(PADDLEOCR_TREE))
    try:
        from tools.infer.utility import get_rotate_crop_image
    finally:
        sys.path.remove(str(PADDLEOCR_TREE))
    rng = np.random.default_rng(0)
    image = Image.new("RGB", (400, 200), (30, 40, 50))
    draw = ImageDraw.Draw(image)
    for _ in range(40):
        x, y, w, h = rng.integers(0, 380), rng.integers(0, 180), rng.integers(5, 40), rng.integers(5, 30)
        draw.rectangle((x, y, x + w, y + h), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    boxes = [
        [[10, 10], [200, 10], [200, 60], [10, 60]],
        [[50, 80], [300, 60], [305, 110], [55, 130]],
        [[20, 20], [60, 22], [58, 180], [18, 178]],
        [[100.5, 40.2], [250.7, 45.9], [248.1, 90.3], [98.9, 85.0]],
    ]
    for box in boxes:
        ours = np.asarray(crop_box(image, box), dtype=float)
        theirs = get_rotate_crop_image(np.asarray(image).copy(), np.array(box, np.float32)).astype(float)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).mean() < 1.0  # measured: 0.0 to 0.35 grey levels
