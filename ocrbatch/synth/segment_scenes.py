"""Segment displays: 7-segment score displays and 14/16-segment alphanumeric ones, glowing or as
dark LCD segments. Rec drawings put one text on a short display; det frames draw a backbox of them.

Fonts come as a fixed family per kind and renderer set (``train`` and ``heldout`` use disjoint
segment bar shapes; both draw some displays with the tailless 6 and 9 of BCD decoder chips and the
hooked 7 of other display drivers), so glyph masks are rasterised once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ocrbatch.synth import camera, looks, segments, texts
from ocrbatch.synth.drawings import Drawing, Panel, Recipe, TextBox, fill_rect
from ocrbatch.synth.opencv import cv2
from ocrbatch.synth.segments import Cell, SegmentFont

REC_GLYPH_PX = 36  # drawing size of rec glyphs (then scaled to the crop height)
# Real segment displays were mostly orange plasma; refits and Gottlieb VFDs add the others.
SEGMENT_PALETTE = {"plasma_orange": 4, "amber": 1, "red": 1.5, "green": 1, "vfd_cyan": 1, "blue": 1, "white": 0.5}
SEGMENT_LCD_SHARE = 0.2  # segment displays drawn as dark LCD segments instead of glowing ones
SEGMENT_SHAPES = {"train": ("hex", "round"), "heldout": ("rect",)}
# Glyph variants (segments.GLYPH_VARIANTS) per renderer set, one picked per font. Real score displays
# draw both forms of 6, 7 and 9 (the decoder chip decides), and a reader that never saw the tailless 9
# or the hooked 7 can only guess (9 or 4? 7 or a broken 9?), so some training displays draw each (3-10
# of the 16 fonts per kind); held-out displays draw them more often. What the held-out set keeps unseen
# is its bar shape and its fonts.
GLYPH_VARIANTS = {
    "train": ((), (), ("tailless",), ("hooked",), ("tailless", "hooked")),
    "heldout": (("tailless",), ("tailless", "hooked"), ("hooked",)),
}


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
            variants=texts.pick(rng, GLYPH_VARIANTS[renderers]),
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


def segment_rec_drawing(recipe: Recipe, rng: np.random.Generator, room: float = 0.0) -> Drawing:
    """One text on a short segment display, with blank (ghosted) positions around it, and ``room``
    glyph heights more of what surrounds the display on each side."""
    lcd = rng.random() < SEGMENT_LCD_SHARE
    numeric = recipe.numeric_only or recipe.style == "seg7"
    kind = segment_kind(recipe.style, rng)
    row = segment_rec_text(rng, kind, numeric)
    px = REC_GLYPH_PX
    font = pick_font(rng, kind, recipe.renderers)
    line = draw_segment_row(row, font, px, rng, lcd=lcd, margin=(int(px * (1.3 + room)), int(px * 0.9)))
    box = line.box(row.first, row.last, row.cells)
    window = np.zeros_like(line.lit)
    fill_rect(window, window_around(line, len(row.cells), rng.uniform(0.15, 0.5)))
    look = looks.lcd_look(rng) if lcd else looks.emissive_look(rng, SEGMENT_PALETTE)
    maps = cv2.merge([line.lit, line.ghost, window])  # np.dstack's result, several times faster
    return Drawing(maps, [TextBox(row.text, camera.quad_from_box(*box))], px, look)


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
