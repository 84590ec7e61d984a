"""Segment displays: glyph geometry (7, 14 and 16 segments), the segment maps, and the rasteriser.

Everything here is data defined in this file; no font is read from the system. A glyph cell is one
unit tall; segments are bars with pointed, square or round ends (``SegmentFont.shape``) laid out in that
unit cell, sheared by the font's slant, and filled with anti-aliasing at the requested pixel size.
Masks are cached per (font, size), so drawing a line of text is a few array additions.

Every cell of a display also owns a period dot and a comma tail in the gap to its right, which is
how real pinball score displays show "1,234,560": the separators are lit segments, not characters
of their own. ``Cell`` carries those two flags.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ocrbatch.synth.opencv import cv2

# --- what each character lights ---------------------------------------------------------------
# 7 segments: a top, b upper right, c lower right, d bottom, e lower left, f upper left, g middle.
SEVEN_SEGMENT_GLYPHS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
    "-": "g",
    " ": "",
}

# 14 segments: the 7 above with g split into g1 (left) and g2 (right), plus h/j (upper diagonals
# from the top corners to the centre), i (upper centre bar), k/m (lower diagonals from the centre
# to the bottom corners) and l (lower centre bar). 16 segments also split a and d in halves.
# Zero carries a slash and S uses a diagonal so that 0/O and 5/S never look the same.
FOURTEEN_SEGMENT_GLYPHS = {
    "0": "a b c d e f j k",
    "1": "b c j",
    "2": "a b d e g1 g2",
    "3": "a b c d g2",
    "4": "b c f g1 g2",
    "5": "a c d f g1 g2",
    "6": "a c d e f g1 g2",
    "7": "a b c",
    "8": "a b c d e f g1 g2",
    "9": "a b c d f g1 g2",
    "A": "a b c e f g1 g2",
    "B": "a b c d g2 i l",
    "C": "a d e f",
    "D": "a b c d i l",
    "E": "a d e f g1",
    "F": "a e f g1",
    "G": "a c d e f g2",
    "H": "b c e f g1 g2",
    "I": "a d i l",
    "J": "b c d e",
    "K": "e f g1 j m",
    "L": "d e f",
    "M": "b c e f h j",
    "N": "b c e f h m",
    "O": "a b c d e f",
    "P": "a b e f g1 g2",
    "Q": "a b c d e f m",
    "R": "a b e f g1 g2 m",
    "S": "a c d g2 h",
    "T": "a i l",
    "U": "b c d e f",
    "V": "e f j k",
    "W": "b c e f k m",
    "X": "h j k m",
    "Y": "h j l",
    "Z": "a d j k",
    "-": "g1 g2",
    "/": "j k",
    " ": "",
}

PUNCTUATION = ",."
MIN_SEPARATOR_RADIUS = 0.06  # period dot radius, in glyph heights: a separator a camera still shows

# Digit shapes that differ between display drivers, as (segments dropped, segments added) in the
# 14-segment names (a 7-segment display has one g, named g1 and g2 here). "tailless": 6 without its
# top bar and 9 without its bottom bar, as BCD decoder chips (the 4511, 7447) draw them on many
# early score displays; "hooked": a 7 with the upper left bar lit.
GLYPH_VARIANTS = {
    "tailless": {"6": ({"a"}, set()), "9": ({"d"}, set())},
    "hooked": {"7": (set(), {"f"})},
}


def glyph_segments(kind: str, variants: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """Character -> names of the segments it lights, for one display kind and glyph variants."""
    table = {ch: tuple(segs.split()) for ch, segs in FOURTEEN_SEGMENT_GLYPHS.items()}
    if kind == "seg7":
        table = {ch: tuple(segs) for ch, segs in SEVEN_SEGMENT_GLYPHS.items()}
    for variant in variants:
        for ch, (dropped, added) in GLYPH_VARIANTS[variant].items():
            if kind == "seg7":
                dropped, added = {s[0] for s in dropped}, {s[0] for s in added}
            table[ch] = tuple(s for s in table[ch] if s not in dropped) + tuple(sorted(added))
    if kind == "seg16":
        split = {"a": ("a1", "a2"), "d": ("d1", "d2")}
        table = {ch: tuple(p for s in segs for p in split.get(s, (s,))) for ch, segs in table.items()}
    return table


def charset(kind: str) -> str:
    """Characters a display kind can show (separators included)."""
    return "".join(sorted(glyph_segments(kind))) + PUNCTUATION


@dataclass(frozen=True)
class SegmentFont:
    """The shape of one display's glyphs, in units of the glyph height."""

    kind: str = "seg7"  # seg7 | seg14 | seg16
    width: float = 0.56  # glyph width
    thickness: float = 0.12  # bar thickness
    gap: float = 0.018  # dark gap between neighbouring bars
    slant: float = 0.1  # horizontal shift of the top relative to the bottom
    spacing: float = 0.3  # gap between cells, where the period and comma sit
    shape: str = "hex"  # bar ends: hex (pointed), rect (square) or round
    variants: tuple[str, ...] = ()  # names in GLYPH_VARIANTS: how this display draws 6, 7 and 9

    @property
    def pitch(self) -> float:
        return self.width + self.spacing

    @property
    def dot_radius(self) -> float:
        # Never below MIN_SEPARATOR_RADIUS: on thin-barred fonts a comma scaled with the bars shrank
        # below a pixel in the crop, and labels said "1,309,838" over a picture that shows 1309838.
        return max(self.thickness * 0.62, MIN_SEPARATOR_RADIUS)

    @property
    def descent(self) -> float:
        """How far below the baseline the comma tail reaches."""
        return self.dot_radius * 2.6


@dataclass(frozen=True)
class Cell:
    """One character position of a display: its glyph and whether its period/comma are lit."""

    char: str = " "
    period: bool = False
    comma: bool = False

    @property
    def text(self) -> str:
        return self.char + ("," if self.comma else "." if self.period else "")


def cells_from_text(text: str) -> list[Cell]:
    """Lay a string out on cells the way a display shows it: separators light the previous cell."""
    cells: list[Cell] = []
    for ch in text:
        if ch in PUNCTUATION and cells and cells[-1].char != " " and not (cells[-1].period or cells[-1].comma):
            prev = cells[-1]
            cells[-1] = Cell(prev.char, period=True, comma=ch == ",")
        elif ch in PUNCTUATION:
            cells.append(Cell(" ", period=True, comma=ch == ","))
        else:
            cells.append(Cell(ch))
    return cells


def text_from_cells(cells: Sequence[Cell]) -> str:
    """What a reader should output for these cells: lit separators included, blank runs -> one space."""
    return " ".join("".join(c.text for c in cells).split())


# --- geometry ----------------------------------------------------------------------------------


def _bar(p0, p1, half: float, gap: float, shape: str = "hex") -> np.ndarray:
    """A bar from p0 to p1, shortened by ``gap`` at both ends: ``hex`` with pointed ends (plasma and
    LED tubes), ``rect`` with square ends (LCD and many LED digits) or ``round`` (capsule ends)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    u = p1 - p0
    u /= np.linalg.norm(u)
    n = np.array([-u[1], u[0]])
    a, b = p0 + u * gap, p1 - u * gap
    tip = min(half, np.linalg.norm(b - a) / 2)
    if shape == "rect":
        a, b = a + u * tip * 0.5, b - u * tip * 0.5
        return np.array([a + n * half, b + n * half, b - n * half, a - n * half])
    if shape == "round":  # elliptic caps, ``tip`` long, the bar's full width where they meet the sides
        a, b = a + u * tip, b - u * tip
        angles = np.linspace(-math.pi / 2, math.pi / 2, 7)[:, None]
        cap_b = b + u * np.cos(angles) * tip - n * np.sin(angles) * half
        cap_a = a - u * np.cos(angles) * tip + n * np.sin(angles) * half
        return np.concatenate([cap_b, cap_a])
    return np.array([a, a + u * tip + n * half, b - u * tip + n * half, b, b - u * tip - n * half, a + u * tip - n * half])


def _disc(centre, radius: float, sides: int = 12) -> np.ndarray:
    angles = np.linspace(0, 2 * math.pi, sides, endpoint=False)
    return np.stack([centre[0] + radius * np.cos(angles), centre[1] + radius * np.sin(angles)], axis=1)


def segment_polygons(font: SegmentFont) -> dict[str, np.ndarray]:
    """Every segment of a cell as a polygon in unit coordinates (y down, before slanting)."""
    w, t, g = font.width, font.thickness, font.gap
    h = t / 2
    left, right, top, mid, bottom, centre = h, w - h, h, 0.5, 1 - h, w / 2

    def bar(p0, p1, half, gap):
        return _bar(p0, p1, half, gap, font.shape)

    polys = {
        "b": bar((right, top), (right, mid), h, g),
        "c": bar((right, mid), (right, bottom), h, g),
        "e": bar((left, mid), (left, bottom), h, g),
        "f": bar((left, top), (left, mid), h, g),
    }
    if font.kind == "seg7":
        polys["a"] = bar((left, top), (right, top), h, g)
        polys["d"] = bar((left, bottom), (right, bottom), h, g)
        polys["g"] = bar((left, mid), (right, mid), h, g)
    else:
        if font.kind == "seg16":
            polys["a1"] = bar((left, top), (centre, top), h, g)
            polys["a2"] = bar((centre, top), (right, top), h, g)
            polys["d1"] = bar((left, bottom), (centre, bottom), h, g)
            polys["d2"] = bar((centre, bottom), (right, bottom), h, g)
        else:
            polys["a"] = bar((left, top), (right, top), h, g)
            polys["d"] = bar((left, bottom), (right, bottom), h, g)
        polys["g1"] = bar((left, mid), (centre, mid), h, g)
        polys["g2"] = bar((centre, mid), (right, mid), h, g)
        polys["i"] = bar((centre, top), (centre, mid), h * 0.85, g)
        polys["l"] = bar((centre, mid), (centre, bottom), h * 0.85, g)
        # Diagonals run between the inner corners, thinner than the frame bars as on real tubes.
        inset, dh = t * 1.05, h * 0.75
        polys["h"] = bar((left + inset * 0.6, top + inset * 0.6), (centre - h, mid - h), dh, g)
        polys["j"] = bar((right - inset * 0.6, top + inset * 0.6), (centre + h, mid - h), dh, g)
        polys["k"] = bar((centre - h, mid + h), (left + inset * 0.6, bottom - inset * 0.6), dh, g)
        polys["m"] = bar((centre + h, mid + h), (right - inset * 0.6, bottom - inset * 0.6), dh, g)
    r = font.dot_radius
    dot = (w + font.spacing * 0.45, 1 - r)
    polys["dp"] = _disc(dot, r)
    polys["comma"] = _bar((dot[0] + r * 0.15, dot[1] + r * 1.25), (dot[0] - r * 0.75, dot[1] + r * 2.6), r * 0.6, 0)
    return polys


def _slanted(poly: np.ndarray, slant: float) -> np.ndarray:
    out = poly.copy()
    out[:, 0] += slant * (1 - poly[:, 1])
    return out


@dataclass(frozen=True)
class GlyphMasks:
    """Anti-aliased masks of one font at one pixel size; every mask has the shape of one cell."""

    font: SegmentFont
    cell_px: int  # pixels per glyph height
    segments: dict[str, np.ndarray]
    glyphs: dict[str, np.ndarray]
    frame: np.ndarray  # all segments but the separators: the unlit structure you see (ghosting)
    frame_with_separators: np.ndarray
    cells: dict = field(default_factory=dict, compare=False, repr=False)  # (char, period, comma) -> mask

    @property
    def shape(self) -> tuple[int, int]:
        return self.frame.shape

    def cell(self, cell: Cell) -> np.ndarray:
        key = (cell.char, cell.period, cell.comma)
        mask = self.cells.get(key)
        if mask is None:  # a few dozen distinct cells per font: sum their segments once
            mask = self.glyphs[cell.char]
            if cell.period or cell.comma:
                mask = mask + self.segments["dp"]
                if cell.comma:
                    mask = mask + self.segments["comma"]
            self.cells[key] = mask
        return mask

    def ghost(self, with_separators: bool) -> np.ndarray:
        return self.frame_with_separators if with_separators else self.frame


SUBPIXEL_BITS = 4


@functools.lru_cache(maxsize=128)
def glyph_masks(font: SegmentFont, cell_px: int) -> GlyphMasks:
    """Rasterise every segment once (cached); glyphs are sums of their segments."""
    height = int(math.ceil(cell_px * (1 + font.descent))) + 2
    width = int(math.ceil(cell_px * (font.pitch + font.slant))) + 2
    segments = {}
    for name, poly in segment_polygons(font).items():
        canvas = np.zeros((height, width), np.uint8)
        pts = np.round((_slanted(poly, font.slant) * cell_px + 1) * (1 << SUBPIXEL_BITS)).astype(np.int32)
        cv2.fillPoly(canvas, [pts], 255, lineType=cv2.LINE_AA, shift=SUBPIXEL_BITS)
        segments[name] = canvas.astype(np.float32) / 255.0
    table = glyph_segments(font.kind, font.variants)
    empty = np.zeros((height, width), np.float32)
    glyphs = {ch: sum((segments[s] for s in segs), empty.copy()) for ch, segs in table.items()}
    frame = sum((segments[s] for s in segments if s not in ("dp", "comma")), empty.copy())
    frame = np.minimum(frame, 1.0)
    return GlyphMasks(font, cell_px, segments, glyphs, frame, np.minimum(frame + segments["dp"] + segments["comma"], 1.0))


@dataclass(frozen=True)
class LineRender:
    """A drawn display line: lit and unlit-structure masks, and where each cell sits (pixels)."""

    lit: np.ndarray
    ghost: np.ndarray
    origin: tuple[float, float]  # top-left of cell 0's glyph box
    pitch_px: float
    masks: GlyphMasks

    def cell_x(self, index: int) -> int:
        """Left edge of cell ``index`` relative to the origin (cells sit on whole pixels)."""
        return int(round(index * self.pitch_px))

    def box(self, first: int, last: int, cells: Sequence[Cell]) -> tuple[float, float, float, float]:
        """Tight (x0, y0, x1, y1) around cells first..last inclusive, separators included."""
        font, px = self.masks.font, self.masks.cell_px
        x0 = self.origin[0] + self.cell_x(first)
        x1 = self.origin[0] + self.cell_x(last) + (font.width + font.slant) * px
        y0 = self.origin[1]
        y1 = self.origin[1] + px
        tail = cells[last]
        if tail.period or tail.comma:
            x1 = max(x1, self.origin[0] + self.cell_x(last) + (font.width + font.spacing * 0.45 + font.dot_radius) * px)
        if any(c.comma for c in cells[first : last + 1]):
            y1 += font.descent * px * 0.9
        aa = 1.0  # anti-aliased edges reach about a pixel beyond the polygons
        return x0 - aa, y0 - aa, x1 + aa, y1 + aa


def render_line(
    cells: Sequence[Cell],
    font: SegmentFont,
    cell_px: int,
    *,
    separator_positions: Sequence[bool] | None = None,
    brightness: Sequence[float] | None = None,
    margin: tuple[int, int] = (0, 0),
) -> LineRender:
    """Draw a row of cells. ``separator_positions[i]`` says whether cell i physically has a
    period/comma (its unlit structure is then visible); ``brightness`` varies cells like worn tubes.
    """
    masks = glyph_masks(font, cell_px)
    ch, cw = masks.shape
    pitch = font.pitch * cell_px
    mx, my = margin
    width = int(math.ceil(mx * 2 + pitch * (len(cells) - 1) + cw))
    height = ch + my * 2
    lit = np.zeros((height, width), np.float32)
    ghost = np.zeros((height, width), np.float32)
    for i, cell in enumerate(cells):
        x = mx + int(round(i * pitch))  # == LineRender.cell_x(i) + margin
        level = 1.0 if brightness is None else brightness[i]
        has_separators = True if separator_positions is None else separator_positions[i]
        # OpenCV's in-place adds on these small views cost less than numpy's.
        if cell.char != " " or cell.period or cell.comma:  # a blank cell adds nothing lit
            region = lit[my : my + ch, x : x + cw]
            cv2.scaleAdd(masks.cell(cell), float(level), region, dst=region)
        region = ghost[my : my + ch, x : x + cw]
        cv2.add(region, masks.ghost(has_separators or cell.period or cell.comma), dst=region)
    for drawn in (lit[my : my + ch], ghost[my : my + ch]):  # the margins are still zero
        cv2.threshold(drawn, 1.0, 1.0, cv2.THRESH_TRUNC, dst=drawn)  # np.minimum(x, 1), 6x faster
    return LineRender(lit, ghost, (mx + 1.0, my + 1.0), pitch, masks)
