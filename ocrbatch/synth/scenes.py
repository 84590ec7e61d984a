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
segment bar shapes, dot shapes and camera effects (Gaussian blur and scanlines vs disc defocus and
moire); ``all`` draws from both. The held-out set is what ``bench/generalization.py`` judges on.
About a third of rec crops are "photos": looser, rotated, lower-resolution, blurrier crops, named
``*_photo.jpg``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from ocrbatch.synth import camera, dotmatrix, looks, segments, texts, typefaces
from ocrbatch.synth.opencv import cv2
from ocrbatch.synth.segments import Cell, SegmentFont

STYLES = ("seg7", "seg14", "dmd", "lcd")
REC_MAX_ASPECT = 320 / 48  # PaddleOCR rec models read 48x320 crops; wider text is squeezed
REC_GLYPH_PX = 36  # drawing size of rec glyphs (then scaled to the crop height)
DET_SIZES = (512, 576, 640, 704, 768)
# Real segment displays were mostly orange plasma; refits and Gottlieb VFDs add the others.
SEGMENT_PALETTE = {"plasma_orange": 4, "amber": 1, "red": 1.5, "green": 1, "vfd_cyan": 1, "blue": 1, "white": 0.5}
DMD_PALETTE = {"plasma_orange": 6, "amber": 1, "red": 1, "green": 0.5, "blue": 0.5, "white": 0.5}
RENDERER_SETS = typefaces.RENDERER_SETS
PHOTO_SHARE = 0.35  # rec crops taken like a phone photo of the cabinet rather than a tidy crop
SEGMENT_LCD_SHARE = 0.2  # segment displays drawn as dark LCD segments instead of glowing ones
SEGMENT_SHAPES = {"train": ("hex", "round"), "heldout": ("rect",)}
DOT_SHAPES = {"train": ("round", "rounded"), "heldout": ("square",)}


@dataclass(frozen=True)
class Recipe:
    """What to draw: a style, whether its texts are scores only (numeric charset), and from which
    renderer set (train, heldout or all) fonts, shapes and camera effects come."""

    style: str
    numeric_only: bool = False
    renderers: str = "all"

    def renderer_set(self, rng: np.random.Generator) -> str:
        """``train`` or ``heldout`` for one drawing decision (``all``: either, evenly)."""
        if self.renderers != "all":
            return self.renderers
        return "heldout" if rng.random() < 0.5 else "train"


@dataclass(frozen=True)
class TextBox:
    text: str
    quad: np.ndarray  # 4x2, clockwise from top-left


@dataclass
class Drawing:
    """A style's output before colouring: maps (H, W, k) in drawing pixels and its text boxes."""

    maps: np.ndarray  # channels: lit, ghost, window[, panel]
    boxes: list[TextBox]
    glyph_px: float
    look: looks.Look | None  # None: maps are (text coverage, B, G, R), already painted


# --- fonts: a fixed family per kind, so glyph masks are rasterised once per process ---------------


# Ranges (in glyph heights) of width, bar thickness, bar gap, slant and cell spacing.
FONT_RANGES = {
    "seg7": ((0.42, 0.64), (0.07, 0.18), (0.004, 0.045), (0.04, 0.2), (0.18, 0.4)),
    "seg14": ((0.5, 0.7), (0.06, 0.13), (0.004, 0.035), (0.04, 0.16), (0.2, 0.34)),
}


@functools.lru_cache(maxsize=None)
def font_family(kind: str, renderers: str = "train") -> tuple[SegmentFont, ...]:
    """Fonts of one kind from one renderer set, the same in every process (a fixed seed per set)."""
    if renderers == "all":
        return font_family(kind, "train") + font_family(kind, "heldout")
    heldout = renderers == "heldout"
    rng = np.random.default_rng({"seg7": 7, "seg14": 14, "seg16": 16}[kind] + (1000 if heldout else 0))
    width, thickness, gap, slant, spacing = FONT_RANGES["seg7" if kind == "seg7" else "seg14"]
    fonts = []
    for _ in range(8 if heldout else 16):
        upright = rng.random() < 0.3
        fonts.append(SegmentFont(
            kind,
            width=round(rng.uniform(*width), 3),
            thickness=round(rng.uniform(*thickness), 3),
            gap=round(rng.uniform(*gap), 3),
            slant=0.0 if upright else round(rng.uniform(*slant), 3),
            spacing=round(rng.uniform(*spacing), 3),
            shape=texts.pick(rng, SEGMENT_SHAPES[renderers]),
        ))
    return tuple(fonts)


def pick_font(rng: np.random.Generator, kind: str, renderers: str = "all") -> SegmentFont:
    family = font_family(kind, renderers)
    return family[int(rng.integers(len(family)))]


# --- segment displays ----------------------------------------------------------------------------


@dataclass
class SegmentText:
    """A text on a row of display positions: the cells, and which positions carry separators."""

    cells: list[Cell]
    first: int  # position of the text's first cell
    last: int
    separators: list[bool] = field(default_factory=list)

    @property
    def text(self) -> str:
        return segments.text_from_cells(self.cells[self.first : self.last + 1])


def score_on_display(rng: np.random.Generator, positions: int, separator: str) -> SegmentText:
    """A right-aligned score on a numeric display whose separator segments sit between groups."""
    label = texts.score_text(rng, separator, max_digits=positions)
    digits = segments.cells_from_text(label)
    cells = [Cell()] * (positions - len(digits)) + digits
    separators = [bool(separator) and (positions - 1 - p) % 3 == 0 and p < positions - 1 for p in range(positions)]
    return SegmentText(cells, positions - len(digits), positions - 1, separators)


def text_on_display(rng: np.random.Generator, label: str, positions: int) -> SegmentText:
    """A text somewhere on an alphanumeric display (every position has period and comma segments)."""
    cells = segments.cells_from_text(label)
    spare = max(positions - len(cells), 0)
    offset = int(rng.integers(0, spare + 1))
    row = [Cell()] * offset + cells + [Cell()] * (spare - offset)
    return SegmentText(row, offset, offset + len(cells) - 1, [True] * len(row))


def plain_number(value: str, positions: int) -> SegmentText:
    """A small number on a display without separators (credits, ball in play)."""
    cells = [Cell()] * (positions - len(value)) + [Cell(c) for c in value]
    return SegmentText(cells, positions - len(value), positions - 1, [False] * positions)


def segment_kind(style: str, rng: np.random.Generator) -> str:
    """seg7 displays are 7-segment; LCDs are numeric or alphanumeric; seg14 is 14 or 16 segments."""
    if style == "seg7" or (style == "lcd" and rng.random() < 0.5):
        return "seg7"
    return "seg16" if rng.random() < 0.35 else "seg14"


def segment_rec_text(rng: np.random.Generator, kind: str, numeric: bool) -> SegmentText:
    if kind == "seg7":
        if rng.random() < 0.12:  # ball-in-play / credit displays: two plain digits
            return plain_number(str(int(rng.integers(0, 100 if rng.random() < 0.5 else 10))), 2)
        return score_on_display(rng, texts.pick(rng, [6, 7, 7, 8]), texts.pick_separator(rng))
    if numeric or rng.random() < 0.35:
        label = texts.score_text(rng, texts.pick_separator(rng), max_digits=10)
    else:
        label = texts.message_text(rng, max_length=16)
    return text_on_display(rng, label, len(segments.cells_from_text(label)) + int(rng.integers(0, 4)))


def cell_brightness(rng: np.random.Generator, n: int, lcd: bool):
    """Tubes age unevenly, and a fast shutter catches multiplexed digits mid-refresh (dimmer ones)."""
    if lcd:
        return None
    low = 0.45 if rng.random() < 0.12 else 0.8
    return rng.uniform(low, 1.0, n)


def draw_segment_row(row: SegmentText, font: SegmentFont, px: int, rng: np.random.Generator, *,
                     lcd: bool, margin: tuple[int, int] = (0, 0)) -> segments.LineRender:
    brightness = cell_brightness(rng, len(row.cells), lcd)
    return segments.render_line(
        row.cells, font, px, separator_positions=row.separators, brightness=brightness, margin=margin
    )


def window_around(line: segments.LineRender, n_cells: int, pad: float) -> tuple[float, float, float, float]:
    """The display glass around all positions of a line (lit or not)."""
    font, px = line.masks.font, line.masks.cell_px
    x0 = line.origin[0] - pad * px
    x1 = line.origin[0] + (n_cells - 1) * line.pitch_px + (font.pitch + font.slant) * px + pad * px
    return x0, line.origin[1] - pad * px, x1, line.origin[1] + (1 + font.descent) * px + pad * px


def fill_rect(mask: np.ndarray, rect, value: float = 1.0) -> None:
    x0, y0, x1, y1 = (int(round(v)) for v in rect)
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = value


def segment_rec_drawing(recipe: Recipe, rng: np.random.Generator) -> Drawing:
    """One text on a short segment display, with blank (ghosted) positions around it."""
    lcd = rng.random() < SEGMENT_LCD_SHARE
    numeric = recipe.numeric_only or recipe.style == "seg7"
    kind = segment_kind(recipe.style, rng)
    row = segment_rec_text(rng, kind, numeric)
    px = REC_GLYPH_PX
    font = pick_font(rng, kind, recipe.renderers)
    line = draw_segment_row(row, font, px, rng, lcd=lcd, margin=(int(px * 1.3), int(px * 0.9)))
    box = line.box(row.first, row.last, row.cells)
    window = np.zeros_like(line.lit)
    fill_rect(window, window_around(line, len(row.cells), rng.uniform(0.15, 0.5)))
    look = looks.lcd_look(rng) if lcd else looks.emissive_look(rng, SEGMENT_PALETTE)
    maps = cv2.merge([line.lit, line.ghost, window])  # np.dstack's result, several times faster
    return Drawing(maps, [TextBox(row.text, camera.quad_from_box(*box))], px, look)


# --- dot matrix ----------------------------------------------------------------------------------


def dmd_text(rng: np.random.Generator, numeric: bool) -> tuple[str, int, bool]:
    """(text, scale, bold): scores in the big font, messages small or big."""
    if numeric or rng.random() < 0.45:
        text = texts.score_text(rng, texts.pick(rng, [",", ",", ",", "."]), max_digits=10)
        return text, 2 if len(text) <= 11 or rng.random() < 0.3 else 1, rng.random() < 0.4
    text = texts.message_text(rng, max_length=20)
    big = len(text) <= 10 and rng.random() < 0.4
    return text, 2 if big else 1, big and rng.random() < 0.4


def dmd_dots(text: str, big: bool, bold: bool, recipe: Recipe, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The lit dots of a text in one of the DMD fonts, and the font's cap height in dots: the 5x7
    font (doubled for big text) or a pixel font drawn from a typeface of the recipe's renderer set."""
    renderers = recipe.renderer_set(rng)
    if renderers == "train" and rng.random() < 0.3:
        scale = 2 if big else 1
        return dotmatrix.text_dots(text, scale=scale, bold=bold), dotmatrix.GLYPH_HEIGHT * scale
    face = texts.pick(rng, typefaces.faces(renderers))
    rows = int(rng.integers(11, 17)) if big else int(rng.integers(8, 11))
    threshold = rng.uniform(0.35, 0.6)
    return typefaces.pixel_text(text, face, rows, threshold=threshold, bold=bold and rows >= 10,
                                spacing=1 + int(rng.random() < 0.2)), rows


def dmd_rec_drawing(recipe: Recipe, rng: np.random.Generator) -> Drawing:
    text, scale, bold = dmd_text(rng, recipe.numeric_only)
    dots, rows = dmd_dots(text, scale == 2, bold, recipe, rng)
    pad_rows, pad_cols = int(rng.integers(2, 6)), int(rng.integers(2, 8))
    levels = np.zeros((dots.shape[0] + 2 * pad_rows, dots.shape[1] + 2 * pad_cols), np.float32)
    levels[pad_rows : pad_rows + dots.shape[0], pad_cols : pad_cols + dots.shape[1]] = dots * texts.pick(rng, [1.0, 1.0, 0.8, 0.67])
    pitch = int(np.clip(round(rng.uniform(32, 52) / rows), 2, 6))
    shape = texts.pick(rng, DOT_SHAPES[recipe.renderer_set(rng)])
    render = dotmatrix.render_dots(levels, pitch, fill=rng.uniform(0.62, 0.9), shape=shape)
    margin = int(rows * pitch * 0.8)
    glass = np.ones_like(render.lit)
    maps = cv2.copyMakeBorder(cv2.merge([render.lit, render.ghost, glass]),
                              margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)
    ys, xs = np.nonzero(dots)
    x0, y0 = margin + (pad_cols + xs.min()) * pitch, margin + (pad_rows + ys.min()) * pitch
    box = (x0, y0, margin + (pad_cols + xs.max() + 1) * pitch, margin + (pad_rows + ys.max() + 1) * pitch)
    return Drawing(maps, [TextBox(text, camera.quad_from_box(*box))], rows * pitch, looks.emissive_look(rng, DMD_PALETTE))


# --- LCD screens with outline fonts ------------------------------------------------------------


def _colour(rng: np.random.Generator, luminance: float) -> np.ndarray:
    """A random colour (BGR) of about the given luminance."""
    colour = rng.random(3).astype(np.float32) ** 1.5 + 0.05
    lum = float(colour @ np.float32([0.114, 0.587, 0.299]))
    return np.clip(colour * (luminance / max(lum, 1e-3)), 0.0, 1.0).astype(np.float32)


def busy_background(rng: np.random.Generator, height: int, width: int, dark: bool) -> np.ndarray:
    """What modern games draw behind a score: gradients, blurred art, shapes, stripes, texture (BGR).
    Drawn at half size and scaled up: cheaper, and the camera softens it anyway."""
    full = (width, height)
    height, width = (height + 1) // 2, (width + 1) // 2
    low, high = (0.0, 0.32) if dark else (0.55, 0.95)
    a, b = _colour(rng, rng.uniform(low, high)), _colour(rng, rng.uniform(low, high))
    angle = rng.uniform(0, np.pi)
    ramp = (np.arange(width, dtype=np.float32)[None, :] * np.float32(np.cos(angle))
            + np.arange(height, dtype=np.float32)[:, None] * np.float32(np.sin(angle)))
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1.0)
    image = cv2.merge([a[c] + (b[c] - a[c]) * ramp for c in range(3)])
    if rng.random() < 0.6:  # blurred artwork
        coarse = np.stack([_colour(rng, rng.uniform(low, high)) for _ in range(12)]).reshape(3, 4, 3)
        fields = cv2.resize(coarse[: int(rng.integers(2, 4)), : int(rng.integers(2, 5))], (width, height),
                            interpolation=cv2.INTER_CUBIC)
        image = cv2.addWeighted(image, 0.5, fields, 0.5, 0.0)
    if rng.random() < 0.5:  # shapes: circles, boxes and streaks
        layer = image.copy()
        for _ in range(int(rng.integers(2, 9))):
            colour = tuple(float(c) for c in _colour(rng, rng.uniform(low, high)))
            x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
            size = int(rng.integers(4, max(5, height)))
            kind = rng.random()
            if kind < 0.4:
                cv2.circle(layer, (x, y), size, colour, -1 if rng.random() < 0.6 else int(rng.integers(1, 5)))
            elif kind < 0.7:
                cv2.rectangle(layer, (x, y), (x + 2 * size, y + size), colour, -1)
            else:
                cv2.line(layer, (x, y), (int(rng.integers(0, width)), int(rng.integers(0, height))), colour,
                         int(rng.integers(1, 6)))
        if rng.random() < 0.5:
            layer = cv2.GaussianBlur(layer, (0, 0), rng.uniform(0.8, 4.0))
        image = cv2.addWeighted(image, 0.3, layer, 0.7, 0.0)
    if rng.random() < 0.25:  # stripes or rays
        period, phase = rng.uniform(6, 40), rng.uniform(0, 2 * np.pi)
        stripes = 0.5 + 0.5 * np.sin(ramp * np.float32(width / period * 2 * np.pi) + np.float32(phase))
        image = image * (1 - 0.25 * stripes[:, :, None]).astype(np.float32) + (0.1 if dark else 0.0) * stripes[:, :, None]
    if rng.random() < 0.3:  # texture
        image = image + rng.normal(0, rng.uniform(0.02, 0.08), (height, width, 1)).astype(np.float32)
    return cv2.resize(np.clip(image, 0.0, 1.0).astype(np.float32), full, interpolation=cv2.INTER_LINEAR)


def _paint_over(paint: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    """paint = paint x (1 - mask) + colour x mask, in place (colour: BGR, or an image like paint)."""
    # OpenCV's per-element calls, not numpy broadcasting over a last axis of 3 (several times slower)
    cv2.multiply(paint, cv2.cvtColor(1.0 - mask, cv2.COLOR_GRAY2BGR), dst=paint)
    if colour.ndim == 1:
        looks.add_tinted(paint, mask, colour)
    else:
        cv2.add(paint, cv2.multiply(cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR), colour), dst=paint)


def lcd_rec_drawing(recipe: Recipe, rng: np.random.Generator) -> Drawing:
    """A score (or message) in an outline font on an LCD screen: weights, outlines, shadows, glow,
    gradient fills and busy backgrounds. Its maps are text coverage then the painted BGR picture."""
    if recipe.numeric_only or rng.random() < 0.65:
        label = texts.score_text(rng, texts.pick_separator(rng), max_digits=10)
    else:
        label = texts.message_text(rng, max_length=16)
    face = texts.pick(rng, typefaces.faces(recipe.renderer_set(rng)))
    size = texts.pick(rng, (32, 38))  # few sizes: glyphs are cached per size; the crop rescales anyway
    tracking = rng.uniform(-0.03, 0.15) if rng.random() < 0.5 else 0.0
    outline = int(rng.integers(1, 4)) if rng.random() < 0.35 else 0
    fill, box = typefaces.text_mask(label, face, size, tracking=tracking)
    edge = typefaces.text_mask(label, face, size, stroke=outline, tracking=tracking)[0] if outline else None
    squeeze = rng.uniform(0.75, 1.3)
    h, w = fill.shape
    new_w = max(8, round(w * squeeze))
    fill = cv2.resize(fill, (new_w, h), interpolation=cv2.INTER_AREA)
    if edge is not None:
        edge = cv2.resize(edge, (new_w, h), interpolation=cv2.INTER_AREA)
    box = (box[0] * new_w / w, box[1], box[2] * new_w / w, box[3])
    glyph_px = box[3] - box[1]
    mx, my = int(glyph_px * 1.3), int(glyph_px * 0.6)
    fill = cv2.copyMakeBorder(fill, my, my, mx, mx, cv2.BORDER_CONSTANT, value=0)
    if edge is not None:
        edge = cv2.copyMakeBorder(edge, my, my, mx, mx, cv2.BORDER_CONSTANT, value=0)
    box = (box[0] + mx - 1, box[1] + my - 1, box[2] + mx + 1, box[3] + my + 1)
    h, w = fill.shape
    dark = rng.random() < 0.65
    paint = busy_background(rng, h, w, dark)
    text_colour = _colour(rng, rng.uniform(0.75, 1.0) if dark else rng.uniform(0.0, 0.25))
    if rng.random() < 0.35:  # drop shadow
        shift = np.float32([[1, 0, rng.uniform(1, 5)], [0, 1, rng.uniform(1, 5)]])
        shadow = cv2.warpAffine(edge if edge is not None else fill, shift, (w, h))
        shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(0.5, 3.0)) * np.float32(rng.uniform(0.5, 1.0))
        _paint_over(paint, shadow, np.zeros(3, np.float32))
    if dark and rng.random() < 0.3:  # glow
        glow = cv2.GaussianBlur(fill, (0, 0), rng.uniform(2.0, 6.0)) * np.float32(rng.uniform(0.3, 0.8))
        looks.add_tinted(paint, glow, text_colour)
    if edge is not None:
        edge_colour = _colour(rng, rng.uniform(0.0, 0.15) if dark or rng.random() < 0.5 else rng.uniform(0.85, 1.0))
        _paint_over(paint, edge, edge_colour)
    top = text_colour
    if rng.random() < 0.35:  # gradient fill, top to bottom
        other = _colour(rng, float(text_colour @ np.float32([0.114, 0.587, 0.299])) * rng.uniform(0.7, 1.1))
        t = np.clip((np.arange(h, dtype=np.float32) - box[1]) / max(glyph_px, 1.0), 0, 1)[:, None, None]
        top = np.broadcast_to(top * (1 - t) + other * t, paint.shape).astype(np.float32)
    _paint_over(paint, fill, top)
    b, g, r = cv2.split(paint)
    maps = cv2.merge([fill, b, g, r])
    return Drawing(maps, [TextBox(label, camera.quad_from_box(*box))], glyph_px, None)


# --- recognition crops ---------------------------------------------------------------------------


def rec_drawing(recipe: Recipe, rng: np.random.Generator) -> Drawing:
    if recipe.style == "dmd":
        return dmd_rec_drawing(recipe, rng)
    if recipe.style == "lcd":
        return lcd_rec_drawing(recipe, rng)
    return segment_rec_drawing(recipe, rng)


def crop_quad(box: TextBox, glyph_px: float, rng: np.random.Generator, photo: bool = False) -> np.ndarray:
    """Where a detector-like crop around the text lands in the drawing (a jittered quad).

    Crops are loose or tight; a tight one may shave glyph edges but never a character: the padding
    always exceeds how far the tilt and the corner jitter can move the crop's edges. A ``photo``
    crop is looser, turned further and seen more from the side.
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
    reach = jitter * (y1 - y0) / (1 - 2 * jitter)  # jitter of the final (padded) height
    quad = camera.quad_from_box(x0 - reach, y0 - reach, x1 + reach, y1 + reach)
    return camera.jitter_quad(rng, quad, jitter, rotation)


def render_rec(recipe: Recipe, rng: np.random.Generator, height: int = 48) -> tuple[np.ndarray, str, bool]:
    """One recognition crop (8-bit BGR, ``height`` rows), its label, and whether it is a photo."""
    drawing = rec_drawing(recipe, rng)
    (box,) = drawing.boxes
    photo = rng.random() < PHOTO_SHARE
    src = crop_quad(box, drawing.glyph_px, rng, photo)
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = src.tolist()
    top, bottom = math.hypot(bx - ax, by - ay), math.hypot(cx - dx, cy - dy)
    sides = math.hypot(dx - ax, dy - ay) + math.hypot(cx - bx, cy - by)
    aspect = (top + bottom) / sides * rng.uniform(0.9, 1.1)
    width = min(max(round(height * aspect), height // 2), round(height * REC_MAX_ASPECT))
    dst = camera.quad_from_box(0, 0, width, height)
    maps = camera.warp_maps(drawing.maps, src, dst, (width, height))
    text_px = drawing.glyph_px * height / (sides / 2)
    heldout = recipe.renderer_set(rng) == "heldout"
    return finish(maps, drawing.look, rng, text_px, heldout_camera=heldout, photo=photo), box.text, photo


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
    if rng.random() < (0.6 if photo else 0.4):
        camera.add_glare(image, rng, rng.uniform(0.04, 0.35 * strength))
    if rng.random() < 0.25:
        camera.add_reflection(image, rng, rng.uniform(0.03, 0.15))
    if rng.random() < (0.35 if photo else 0.1):
        pattern = camera.add_moire if heldout_camera else camera.add_scanlines
        pattern(image, rng, rng.uniform(0.1, 0.45))
    image = camera.blur(image, rng, text_px, heldout_camera, strength)
    if rng.random() < (0.5 if photo else 0.2):
        image = camera.low_resolution(image, rng, 0.3 if photo else 0.35)
    camera.add_noise(image, rng, rng.uniform(0.004, 0.045 * strength))
    return camera.expose(image, rng, strength)


def jpeg_quality(rng: np.random.Generator, photo: bool = False) -> int:
    return int(rng.integers(20 if photo else 30, 96))


# --- detection frames ----------------------------------------------------------------------------


class Panel:
    """A display panel in drawing space: maps lit, ghost, window, panel and the texts placed on it."""

    def __init__(self, width: int, height: int):
        self.maps = np.zeros((height, width, 4), np.float32)
        self.maps[:, :, 3] = 1.0
        self.boxes: list[TextBox] = []

    def paste(self, lit: np.ndarray, ghost: np.ndarray, x: int, y: int) -> None:
        h, w = lit.shape
        region = self.maps[y : y + h, x : x + w]
        np.maximum(region[:, :, 0], lit[: region.shape[0], : region.shape[1]], out=region[:, :, 0])
        np.maximum(region[:, :, 1], ghost[: region.shape[0], : region.shape[1]], out=region[:, :, 1])

    def window(self, rect) -> None:
        fill_rect(self.maps[:, :, 2], rect)

    def add_text(self, text: str, box, x: int = 0, y: int = 0) -> None:
        if text:
            x0, y0, x1, y1 = box
            self.boxes.append(TextBox(text, camera.quad_from_box(x0 + x, y0 + y, x1 + x, y1 + y)))


def segment_frame(recipe: Recipe, rng: np.random.Generator) -> tuple[Panel, float, looks.Look]:
    """A backbox of segment displays: player scores (seg7), two alphanumeric rows (seg14), or an LCD."""
    lcd = recipe.style == "lcd"
    numeric = recipe.numeric_only or recipe.style == "seg7"
    kind = segment_kind(recipe.style, rng)
    font = pick_font(rng, kind, recipe.renderers)
    px = texts.pick(rng, [24, 28, 32])
    rows = segment_frame_rows(rng, kind, numeric, lcd)
    lines = [draw_segment_row(r, font, px, rng, lcd=lcd) for r in rows]
    pad = int(px * 0.6)
    columns = 2 if len(lines) >= 4 and kind == "seg7" else 1
    row_h = lines[0].lit.shape[0] + pad
    col_w = max(line.lit.shape[1] for line in lines) + pad
    n_rows = -(-len(lines) // columns)
    panel = Panel(col_w * columns + pad, row_h * n_rows + pad)
    for i, (line, row) in enumerate(zip(lines, rows)):
        col, r = i % columns, i // columns
        x = pad + col * col_w + (col_w - pad - line.lit.shape[1]) // 2
        y = pad + r * row_h
        panel.paste(line.lit, line.ghost, x, y)
        glass = window_around(line, len(row.cells), 0.25)
        panel.window((glass[0] + x, glass[1] + y, glass[2] + x, glass[3] + y))
        for first, last in row_items(row):
            panel.add_text(segments.text_from_cells(row.cells[first : last + 1]), line.box(first, last, row.cells), x, y)
    look = looks.lcd_look(rng) if lcd else looks.emissive_look(rng, SEGMENT_PALETTE)
    return panel, px, look


def row_items(row: SegmentText) -> list[tuple[int, int]]:
    """Separate texts on one row: runs of lit cells split by two or more blank positions."""
    items, start, blanks = [], None, 0
    for i, cell in enumerate(row.cells):
        lit = cell.char != " " or cell.period or cell.comma
        if lit:
            if start is None:
                start = i
            elif blanks >= 2:
                items.append((start, last))
                start = i
            last, blanks = i, 0
        else:
            blanks += 1
    if start is not None:
        items.append((start, last))
    return items


def segment_frame_rows(rng: np.random.Generator, kind: str, numeric: bool, lcd: bool) -> list[SegmentText]:
    if kind == "seg7":
        positions = texts.pick(rng, [6, 7, 7, 8])
        separator = texts.pick_separator(rng)
        players = int(rng.integers(1, 5))
        slots = 4 if players > 1 or rng.random() < 0.5 else 1
        rows = [
            score_on_display(rng, positions, separator) if i < players else blank_display(positions, separator)
            for i in range(slots)
        ]
        if lcd:
            return rows[:2]
        if slots == 4 and rng.random() < 0.5:  # the small credit and ball-in-play displays
            rows += [plain_number(str(int(rng.integers(0, 40))), 2), plain_number(str(int(rng.integers(1, 6))), 2)]
        return rows
    positions = texts.pick(rng, [16, 16, 20])
    return [alphanumeric_row(rng, positions, numeric) for _ in range(1 if lcd and rng.random() < 0.5 else 2)]


def blank_display(positions: int, separator: str) -> SegmentText:
    separators = [bool(separator) and (positions - 1 - p) % 3 == 0 and p < positions - 1 for p in range(positions)]
    return SegmentText([Cell()] * positions, 0, -1, separators)


def alphanumeric_row(rng: np.random.Generator, positions: int, numeric: bool) -> SegmentText:
    """One 16/20-position row: a message, a score, or two texts with a gap ("BALL 2   CREDITS 3")."""
    separator = texts.pick_separator(rng)
    roll = rng.random()
    if numeric:
        parts = [texts.score_text(rng, separator, 7) for _ in range(2 if roll < 0.4 else 1)]
    elif roll < 0.3:
        parts = [texts.message_text(rng, max_length=positions)]
    elif roll < 0.6:
        parts = [texts.message_text(rng, max_length=8), texts.score_text(rng, separator, 7)]
    elif roll < 0.8:
        parts = [texts.message_text(rng, max_length=7), texts.message_text(rng, max_length=7)]
    else:
        parts = [texts.score_text(rng, separator, 10)]
    # Every single part fits (messages are capped at the row, scores take at most 13 cells < 16);
    # two parts need a gap of two blank positions to read as two texts.
    cells_per_part = [segments.cells_from_text(p) for p in parts]
    used = sum(len(c) for c in cells_per_part)
    if len(parts) == 2 and used + 2 > positions:
        cells_per_part, used = cells_per_part[:1], len(cells_per_part[0])
    if len(cells_per_part) == 2:
        gap = positions - used
        row = cells_per_part[0] + [Cell()] * gap + cells_per_part[1]
    else:
        spare = positions - used
        offset = int(rng.integers(0, spare + 1))
        row = [Cell()] * offset + cells_per_part[0] + [Cell()] * (spare - offset)
    return SegmentText(row, 0, len(row) - 1, [True] * len(row))


def dmd_frame(recipe: Recipe, rng: np.random.Generator) -> tuple[Panel, float, looks.Look]:
    """A 128x32 dot-matrix frame: a big score with a status line, messages, or four player scores."""
    rows, cols = 32, 128
    levels = np.zeros((rows, cols), np.float32)
    placed: list[tuple[str, int, int, np.ndarray]] = []

    def place(text: str, scale: int, bold: bool, row: int, align: str, level: float = 1.0) -> None:
        dots = dotmatrix.text_dots(text, scale=scale, bold=bold)
        h, w = dots.shape
        if w > cols - 2:
            return
        col = {"left": 2, "right": cols - 2 - w, "centre": (cols - w) // 2}[align]
        region = levels[row : row + h, col : col + w]
        region[dots[: region.shape[0]]] = level
        placed.append((text, row, col, dots[: region.shape[0]]))

    separator = texts.pick(rng, [",", ",", "."])
    layout = rng.random() * (0.7 if recipe.numeric_only else 1.0)  # the last layout is words only
    if layout < 0.4:
        place(texts.score_text(rng, separator, 9), 2, rng.random() < 0.4, 3, "centre")
        if recipe.numeric_only:
            place(texts.score_text(rng, separator, 6), 1, False, 23, "left", 0.67)
        else:
            place(f"BALL {rng.integers(1, 6)}", 1, False, 23, "left", texts.pick(rng, [0.67, 1.0]))
            status = f"PLAYER {rng.integers(1, 5)}" if rng.random() < 0.5 else f"CREDITS {rng.integers(0, 40)}"
            place(status, 1, False, 23, "right", 0.67)
    elif layout < 0.7:
        for corner, (row, align) in enumerate([(2, "left"), (2, "right"), (22, "left"), (22, "right")]):
            if corner < 2 or rng.random() < 0.6:
                place(texts.score_text(rng, separator, 8), 1, False, row, align, 1.0 if corner == 0 else 0.67)
        if not recipe.numeric_only and rng.random() < 0.6:
            place(f"BALL {rng.integers(1, 6)}", 1, False, 12, "centre", 0.67)
    else:
        first = texts.message_text(rng, max_length=10)
        place(first, 2, rng.random() < 0.3, 2, "centre")
        place(texts.message_text(rng, max_length=20), 1, False, 22, "centre", texts.pick(rng, [0.67, 1.0]))
    pitch = texts.pick(rng, [4, 5])
    shape = texts.pick(rng, DOT_SHAPES[recipe.renderer_set(rng)])
    render = dotmatrix.render_dots(levels, pitch, fill=texts.pick(rng, [0.7, 0.78, 0.86]), shape=shape)
    border = pitch * 3
    panel = Panel(cols * pitch + 2 * border, rows * pitch + 2 * border)
    panel.paste(render.lit, render.ghost, border, border)
    panel.window((border - pitch, border - pitch, border + (cols + 1) * pitch, border + (rows + 1) * pitch))
    for text, row, col, dots in placed:
        ys, xs = np.nonzero(dots)
        box = (border + (col + xs.min()) * pitch, border + (row + ys.min()) * pitch,
               border + (col + xs.max() + 1) * pitch, border + (row + ys.max() + 1) * pitch)
        panel.add_text(text, box)
    return panel, 7 * pitch, looks.emissive_look(rng, DMD_PALETTE)


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
