"""`ocrbatch predict --det-model`: whole generated frames read through stock paddleocr, boxes where the
displays' text is, printed, as JSON, and drawn; wrong models and options end in one line."""

from __future__ import annotations

import json

import pytest

from ocrbatch.trainer.engines.builtin.det_evaluation import match_boxes
from tests.cli_runner import run_local
from tests.predict.conftest import frame_labels

pytestmark = pytest.mark.slow


def test_boxes_found_on_held_out_frames_overlap_the_displays_text(tmp_path, detector, recognizer, held_out_frames):
    det_dir, _ = detector
    labelled = frame_labels(held_out_frames) + frame_labels(held_out_frames, "val")
    out = json.loads(run_local(tmp_path, "predict", "--det-model", str(det_dir), "--model", str(recognizer),
                               *[str(image) for image, _ in labelled], "--json").stdout)
    assert [frame["image"] for frame in out["frames"]] == [str(image) for image, _ in labelled]
    found = [[box["points"] for box in frame["boxes"]] for frame in out["frames"]]
    # Nearly every box found lies on the display: its centre inside the hull of the frame's labelled lines
    # (grown by a line's height, the display's margin)...
    on_display = [_inside_display(box, truth) for boxes, (_, truth) in zip(found, labelled) for box in boxes]
    assert on_display and sum(on_display) >= 0.9 * len(on_display), on_display
    # ...and most frames have a labelled line found (IoU >= 0.3).
    frames_with_a_match = sum(match_boxes(boxes, truth, 0.3) > 0 for boxes, (_, truth) in zip(found, labelled))
    assert frames_with_a_match >= 0.6 * len(labelled), (frames_with_a_match, len(labelled))
    for frame in out["frames"]:
        for box in frame["boxes"]:
            assert len(box["points"]) == 4 and 0 <= box["score"] <= 1 and isinstance(box["text"], str)


def _inside_display(box, truth) -> bool:
    from shapely.geometry import MultiPoint, Point, Polygon

    line_height = min(Polygon(t).bounds[3] - Polygon(t).bounds[1] for t in truth)
    display = MultiPoint([tuple(p) for t in truth for p in t]).convex_hull.buffer(line_height)
    return display.contains(Point(Polygon(box).centroid))


def test_text_output_and_drawn_frames(tmp_path, detector, recognizer, held_out_frames):
    from PIL import Image

    det_dir, _ = detector
    images = [image for image, _ in frame_labels(held_out_frames)[:2]]
    result = run_local(tmp_path, "predict", "--det-model", str(det_dir), "--model", str(recognizer),
                       *map(str, images), "--draw", str(tmp_path / "drawn"))
    assert result.stdout.count("text box(es)") == 2
    for image in images:
        drawn = tmp_path / "drawn" / f"{image.stem}.png"
        with Image.open(drawn) as picture, Image.open(image) as original:
            assert picture.size == original.size
            assert picture.convert("RGB").tobytes() != original.convert("RGB").tobytes() or "0 text box" in result.stdout


def test_models_of_the_wrong_kind_and_a_draw_without_detector_are_refused(tmp_path, detector, recognizer, held_out_frames):
    det_dir, _ = detector
    image = str(frame_labels(held_out_frames)[0][0])
    swapped = run_local(tmp_path, "predict", "--det-model", str(recognizer), "--model", str(det_dir), image, expect=2)
    assert "is a recognition model; it needs a detection model" in swapped.stderr
    assert len(swapped.stderr.strip().splitlines()) == 1
    no_det = run_local(tmp_path, "predict", "--model", str(recognizer), image, "--draw", str(tmp_path / "d"), expect=2)
    assert "--draw needs --det-model" in no_det.stderr
    missing = run_local(tmp_path, "predict", "--det-model", str(det_dir), "--model", str(recognizer), "/no/such.png", expect=2)
    assert "no such image" in missing.stderr
