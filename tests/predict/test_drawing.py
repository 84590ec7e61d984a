"""`predict --draw`: each frame written as PNG with its boxes outlined and its text beside them."""

from __future__ import annotations

from PIL import Image

from ocrbatch.predict.drawing import BOX_COLOUR, LOW_COLOUR, draw_readings
from ocrbatch.predict.frames import FrameReading, TextBox


def test_boxes_are_drawn_in_their_colour_and_same_named_frames_do_not_overwrite(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (320, 200), (40, 40, 40)).save(tmp_path / folder / "frame.jpg")
    sure = TextBox([[20, 120], [150, 120], [150, 160], [20, 160]], "12,340", 0.93)
    unsure = TextBox([[180, 120], [300, 120], [300, 160], [180, 160]], "77", 0.21)
    readings = [FrameReading(str(tmp_path / "a" / "frame.jpg"), [sure, unsure]),
                FrameReading(str(tmp_path / "b" / "frame.jpg"), [])]
    written = draw_readings(readings, tmp_path / "drawn")
    assert [p.name for p in written] == ["frame.png", "frame-2.png"]
    with Image.open(written[0]) as drawn:
        assert drawn.size == (320, 200)
        assert drawn.getpixel((85, 160)) == BOX_COLOUR  # the bottom edge of the sure box
        assert drawn.getpixel((240, 160)) == LOW_COLOUR
        assert drawn.getpixel((85, 140)) == (40, 40, 40)  # inside the box: the frame as it was
    with Image.open(written[1]) as untouched:
        assert set(untouched.getdata()) == {(40, 40, 40)}
