"""Draw what was read onto the frame: each box outlined, its text and score beside it (``predict --draw``)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ocrbatch.predict.frames import FrameReading

BOX_COLOUR = (0, 220, 0)
LOW_COLOUR = (255, 64, 0)  # boxes whose text the recognizer doubts
LOW_SCORE = 0.5


def draw_readings(readings: list[FrameReading], out_dir: Path) -> list[Path]:
    """Write ``out_dir/<image stem>.png`` per frame (PNG: lossless whatever the input was; a stem seen
    before gets ``-2``, ``-3``, ...); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written, seen = [], {}
    for reading in readings:
        stem = Path(reading.image).stem
        seen[stem] = seen.get(stem, 0) + 1
        name = stem if seen[stem] == 1 else f"{stem}-{seen[stem]}"
        written.append(draw_reading(reading, out_dir / f"{name}.png"))
    return written


def draw_reading(reading: FrameReading, target: Path) -> Path:
    with Image.open(reading.image) as source:
        image = source.convert("RGB")
    draw = ImageDraw.Draw(image)
    size = max(12, image.height // 40)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        font = ImageFont.load_default()
    line = max(2, image.height // 300)
    for box in reading.boxes:
        colour = BOX_COLOUR if box.score >= LOW_SCORE else LOW_COLOUR
        corners = [tuple(point) for point in box.points]
        draw.polygon(corners, outline=colour, width=line)
        label = f"{box.text} ({box.score:.2f})"
        x = min(p[0] for p in corners)
        y = min(p[1] for p in corners)
        left, top, right, bottom = draw.textbbox((x, y), label, font=font)
        y = y - (bottom - top) - 2 * line if y - (bottom - top) - 2 * line >= 0 else max(p[1] for p in corners) + line
        left, top, right, bottom = draw.textbbox((x, y), label, font=font)
        draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=(0, 0, 0))
        draw.text((x, y), label, fill=colour, font=font)
    image.save(target)
    return target
