"""One sample of each display style: a recognition crop or a whole display frame with its text boxes.

A style draws float maps (``lit``, ``ghost``, ``window``, and for frames ``panel``) plus the
boxes of the texts it drew, in its own pixel space. A sample then picks a look, warps the maps
once through the camera's perspective (text boxes follow the same homography), colours them, and
lets the camera degrade the picture. Labels come from the drawn cells/dots, never from a separate
string, so they always say what is shown.

Styles: ``seg7`` (7-segment score displays), ``seg14`` (14/16-segment alphanumeric), ``dmd``
(128x32 dot matrix: the 5x7 font here and pixel fonts drawn from typefaces; round, rounded or square
dots), ``lcd`` (rec crops: scores in outline fonts on the busy screens of modern games; det frames:
dark segments on a light background). Segment displays also come as segmented LCDs.

Renderer sets (``Recipe.renderers``): ``train`` and ``heldout`` draw from disjoint typeface families,
segment bar shapes (both draw some tailless 6 and 9 and hooked 7, held-out ones more often), dot
shapes, dot sizes and font shading (anti-aliased DMD fonts), and camera effects (Gaussian blur and
scanlines vs disc defocus and moire);
``all`` draws from both. The held-out set is what ``bench/generalization.py`` judges on.
About a third of rec crops are "photos": looser, rotated, lower-resolution, blurrier crops, named
``*_photo.jpg``; about one in eight is cut much wider than its text (``LOOSE_SHARE``).
"""

from __future__ import annotations

import math

import numpy as np

from ocrbatch.synth import camera, looks, texts, typefaces
from ocrbatch.synth.dmd_scenes import DOT_FILLS as DMD_DOT_FILLS
from ocrbatch.synth.dmd_scenes import DOT_SHAPES, dmd_frame, dmd_rec_drawing
from ocrbatch.synth.drawings import Drawing, Recipe, TextBox
from ocrbatch.synth.lcd_scenes import lcd_rec_drawing
from ocrbatch.synth.opencv import cv2
from ocrbatch.synth.segment_scenes import font_family, segment_frame, segment_rec_drawing

__all__ = ["DMD_DOT_FILLS", "DOT_SHAPES", "STYLES", "Recipe", "TextBox", "crop_quad", "dmd_frame", "font_family", "jpeg_quality",
           "rec_drawing", "render_det", "render_rec", "segment_frame"]

STYLES = ("seg7", "seg14", "dmd", "lcd")
REC_MAX_ASPECT = 320 / 48  # PaddleOCR rec models read 48x320 crops; wider text is squeezed
DET_SIZES = (512, 576, 640, 704, 768)
RENDERER_SETS = typefaces.RENDERER_SETS
PHOTO_SHARE = 0.35  # rec crops taken like a phone photo of the cabinet rather than a tidy crop
# Share of rec crops cut as a box much wider than their text (a fixed-size field, a detector's loose
# box): up to LOOSE_ROOM glyph heights more on each side, the crop at most LOOSE_ASPECT times as wide as
# high. Since data v12; before it no crop had over ~1.3 glyph heights of room on a side, and a model
# read a trailing 0 into the empty screen right of a short score in another renderer's wide crops.
LOOSE_SHARE, LOOSE_ROOM, LOOSE_ASPECT = 0.12, (1.0, 5.0), 6.0
# The least share of its surround that every part of a rec crop's text keeps clearly apart from it
# (camera.weakest_contrast), per style, and how often a crop below it is drawn again before one is kept
# anyway. Set by eye over the lowest-scoring of 6,000 crops of each renderer set: under 0.3 digits are
# gone (pink on pink, a blob over half a score) or hard to make out in a blurred photo; a few that still
# read go too, about 1 to 2 crops in 1,000 in all. Dot matrices are not judged: the measure sees the
# picture sharp, where only dots and gaps show, and any blur that joins the dots into strokes made
# thin strokes elsewhere take the colour of their surround.
MIN_TEXT_CONTRAST = {"seg7": 0.3, "seg14": 0.3, "dmd": 0.0, "lcd": 0.3}
LEGIBLE_TRIES = 8


def rec_drawing(recipe: Recipe, rng: np.random.Generator, room: float = 0.0) -> Drawing:
    """A style's rec drawing, with ``room`` glyph heights more to draw on each side of the text."""
    if recipe.style == "dmd":
        return dmd_rec_drawing(recipe, rng, room)
    if recipe.style == "lcd":
        return lcd_rec_drawing(recipe, rng, room)
    return segment_rec_drawing(recipe, rng, room)


def crop_quad(box: TextBox, glyph_px: float, rng: np.random.Generator, photo: bool = False,
              room: float = 0.0) -> np.ndarray:
    """Where a detector-like crop around the text lands in the drawing (a jittered quad).

    Crops are loose or tight; a tight one may shave glyph edges but never a character: the padding
    always exceeds how far the tilt and the corner jitter can move the crop's edges. A ``photo``
    crop is looser, turned further and seen more from the side. With ``room`` (glyph heights the
    drawing has to spare on each side) each side may reach up to that much further, as long as the
    crop stays within LOOSE_ASPECT: a fixed-size box around a short score.
    """
    (x0, y0), (x1, y1) = (float(v) for v in box.quad[0]), (float(v) for v in box.quad[2])
    jitter = rng.uniform(0.0, 0.12 if photo else 0.06)  # corner movement, in crop heights
    limit = 0.12 if photo else 0.05
    rotation = min(max(rng.normal(0, 0.05 if photo else 0.02), -limit), limit)
    tilt = abs(rotation) * (x1 - x0) / 2
    loose = 1.6 if photo else 1.0
    x0 -= rng.uniform(0.08, 0.8 * loose) * glyph_px
    x1 += rng.uniform(0.08, 0.8 * loose) * glyph_px
    y0 -= rng.uniform(-0.03, 0.35 * loose) * glyph_px + tilt
    y1 += rng.uniform(-0.03, 0.35 * loose) * glyph_px + tilt
    if room:
        left, right = rng.uniform(0, room, 2) * glyph_px
        spare = max(0.0, LOOSE_ASPECT * (y1 - y0) - (x1 - x0))
        shrink = min(1.0, spare / max(left + right, 1e-6))
        x0, x1 = x0 - left * shrink, x1 + right * shrink
    reach = jitter * (y1 - y0) / (1 - 2 * jitter)  # jitter of the final (padded) height
    quad = camera.quad_from_box(x0 - reach, y0 - reach, x1 + reach, y1 + reach)
    return camera.jitter_quad(rng, quad, jitter, rotation)


def render_rec(recipe: Recipe, rng: np.random.Generator, height: int = 48) -> tuple[np.ndarray, str, bool]:
    """One recognition crop (8-bit BGR, ``height`` rows), its label, and whether it is a photo.

    A crop where some of the text is no longer visible against its surround (after colours, glare,
    exposure and noise each took some contrast) is drawn again: its label would be a lie.
    """
    floor = MIN_TEXT_CONTRAST[recipe.style]
    for _ in range(LEGIBLE_TRIES):
        image, label, photo, lit, text_px = _rec_attempt(recipe, rng, height)
        if not floor or camera.weakest_contrast(image, lit, text_px) >= floor:
            break
    return image, label, photo


def _rec_attempt(recipe: Recipe, rng: np.random.Generator, height: int):
    """(picture, label, photo, text map, text height in pixels) of one drawn rec crop."""
    room = rng.uniform(*LOOSE_ROOM) if rng.random() < LOOSE_SHARE else 0.0
    drawing = rec_drawing(recipe, rng, room)
    (box,) = drawing.boxes
    photo = rng.random() < PHOTO_SHARE
    src = crop_quad(box, drawing.glyph_px, rng, photo, room)
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = src.tolist()
    top, bottom = math.hypot(bx - ax, by - ay), math.hypot(cx - dx, cy - dy)
    sides = math.hypot(dx - ax, dy - ay) + math.hypot(cx - bx, cy - by)
    aspect = (top + bottom) / sides * rng.uniform(0.9, 1.1)
    width = min(max(round(height * aspect), height // 2), round(height * REC_MAX_ASPECT))
    dst = camera.quad_from_box(0, 0, width, height)
    maps = camera.warp_maps(drawing.maps, src, dst, (width, height))
    text_px = drawing.glyph_px * height / (sides / 2)
    heldout = recipe.renderer_set(rng) == "heldout"
    image = finish(maps, drawing.look, rng, text_px, heldout_camera=heldout, photo=photo)
    return image, box.text, photo, cv2.extractChannel(maps, 0), text_px


def finish(
    maps: np.ndarray, look: looks.Look | None, rng: np.random.Generator, text_px: float,
    base: np.ndarray | None = None, *, heldout_camera: bool = False, photo: bool = False,
) -> np.ndarray:
    """Colour the warped maps (or take the painted picture) and pass them through the camera: 8-bit
    BGR out. A ``photo`` gets stronger blur, resolution loss, noise and colour casts; held-out
    cameras blur with a disc and show moire, training cameras blur with a Gaussian and show scanlines."""
    if look is None:
        image = np.ascontiguousarray(maps[:, :, 1:4])
    else:
        halo = looks.halo_map(cv2.extractChannel(maps, 0), look, text_px)
        image = looks.compose(maps, halo, look, base)
    strength = 1.6 if photo else 1.0
    exposure = camera.draw_exposure(rng, strength)
    glare = rng.uniform(0.04, 0.35 * strength) if rng.random() < (0.6 if photo else 0.4) else 0.0
    if rng.random() < 0.25:
        camera.add_reflection(image, rng, rng.uniform(0.03, 0.15))
    if rng.random() < (0.35 if photo else 0.1):
        pattern = camera.add_moire if heldout_camera else camera.add_scanlines
        pattern(image, rng, rng.uniform(0.1, 0.45))
    image = camera.blur(image, rng, text_px, heldout_camera, strength)
    if rng.random() < (0.5 if photo else 0.2):
        image = camera.low_resolution(image, rng, text_px, 0.3 if photo else 0.35)
    # The camera exposes for the display as it reaches the sensor; glare on the glass comes on top
    # (smooth, so blurring it would change nothing), dimmed where it would wash the text away.
    exposure = exposure.metered(image)
    if glare:
        camera.add_glare(image, rng, glare, lit=cv2.extractChannel(maps, 0), clip=exposure.clip, text_px=text_px)
    # Noise is drawn at the level it shows in the photo. Drawn before the gain, a dim display's gain
    # (up to 4) multiplied it: photo noise reached a sigma of 0.29 and left labels nobody could read.
    camera.add_noise(image, rng, rng.uniform(0.004, 0.045 * strength) / exposure.gain)
    return camera.expose(image, exposure)


def jpeg_quality(rng: np.random.Generator, photo: bool = False) -> int:
    return int(rng.integers(20 if photo else 30, 96))


def cabinet_scene(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """What surrounds the display: dim, blurry backglass art (smooth random colour fields)."""
    coarse = rng.uniform(0, 1, (int(rng.integers(2, 6)), int(rng.integers(3, 9)), 3)).astype(np.float32)
    coarse *= np.float32(rng.uniform(0.03, 0.3))
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def render_det(recipe: Recipe, rng: np.random.Generator) -> tuple[np.ndarray, list[TextBox]]:
    """A photo of a whole display (8-bit BGR) and the warped boxes of every text on it."""
    panel, glyph_px, look = dmd_frame(recipe, rng) if recipe.style == "dmd" else segment_frame(recipe, rng)
    ph, pw = panel.maps.shape[:2]
    width = texts.pick(rng, DET_SIZES)
    height = int(width * rng.uniform(0.5, 0.85)) // 32 * 32
    # The whole panel stays in the picture (with room for the corner jitter), so no box is cut.
    scale = min(width * rng.uniform(0.55, 0.9) / pw, height * 0.8 / ph)
    w, h = pw * scale, ph * scale
    jitter = 0.05 * min(w, h)
    x0 = rng.uniform(jitter + 2, width - w - jitter - 2)
    y0 = rng.uniform(jitter + 2, height - h - jitter - 2)
    dst = camera.quad_from_box(x0, y0, x0 + w, y0 + h) + rng.uniform(-jitter, jitter, (4, 2)).astype(np.float32)
    src = camera.quad_from_box(0, 0, pw, ph)
    maps = camera.warp_maps(panel.maps, src, dst, (width, height))
    scene = cabinet_scene(rng, width, height)
    # scene outside the panel, bezel colour on it (OpenCV: numpy broadcasting over 3 channels is slow)
    panel_mask = cv2.extractChannel(maps, 3)
    base = cv2.multiply(scene, cv2.cvtColor(1.0 - panel_mask, cv2.COLOR_GRAY2BGR))
    looks.add_tinted(base, panel_mask, look.bezel[::-1])
    image = finish(maps, look, rng, glyph_px * scale, base, heldout_camera=recipe.renderer_set(rng) == "heldout")
    boxes = []
    for box in panel.boxes:
        quad = camera.project(box.quad, src, dst)
        quad = np.clip(np.round(quad), 0, [width - 1, height - 1])
        boxes.append(TextBox(box.text, quad))
    return image, boxes
