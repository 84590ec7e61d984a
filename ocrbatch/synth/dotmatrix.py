"""Dot-matrix displays (DMD): a 5x7 bitmap font defined here as data, text layout on the dot grid,
and the dots (round plasma, rounded or square LED) each grid position is drawn as. Further DMD fonts
are drawn from typefaces in ``typefaces.pixel_text``.

Pinball DMDs are 128x32 grids of round dots (orange neon plasma; later LED panels in other colours).
Text is laid out in dot units first (a boolean grid), then each dot becomes a soft disc ``pitch``
pixels apart. Unlit dots stay faintly visible, which the ``ghost`` map records.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ocrbatch.synth.opencv import cv2

# One string per row, '#' lit. Digits and capitals are 5 wide; narrow punctuation is narrower.
FONT_5X7: dict[str, tuple[str, ...]] = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "-": ("....", "....", "....", "####", "....", "....", "...."),
    "/": ("....#", "....#", "...#.", "..#..", ".#...", "#....", "#...."),
    "!": ("#", "#", "#", "#", "#", ".", "#"),
    ":": (".", "#", ".", ".", ".", "#", "."),
    ".": (".", ".", ".", ".", ".", ".", "#"),
    ",": ("..", "..", "..", "..", "..", ".#", "#."),
    " ": ("...",) * 7,
}

GLYPH_HEIGHT = 7


@functools.lru_cache(maxsize=None)
def _glyph(ch: str) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in FONT_5X7[ch]], dtype=bool)


def charset() -> str:
    return "".join(sorted(FONT_5X7))


def text_dots(text: str, *, scale: int = 1, bold: bool = False) -> np.ndarray:
    """The dots a string lights: a boolean grid 7*scale rows high, one blank column between glyphs.

    ``bold`` doubles every stroke one dot to the right (the heavy score fonts games use).
    """
    columns = []
    for i, ch in enumerate(text):
        if i:
            columns.append(np.zeros((GLYPH_HEIGHT, 1), bool))
        columns.append(_glyph(ch))
    grid = np.concatenate(columns, axis=1) if columns else np.zeros((GLYPH_HEIGHT, 0), bool)
    if bold:
        grid = np.concatenate([grid, np.zeros((GLYPH_HEIGHT, 1), bool)], axis=1)
        grid[:, 1:] |= grid[:, :-1].copy()
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid


DOT_SHAPES = ("round", "rounded", "square")
# Distance norms: 2 draws a disc, 4 a rounded square (LED panels), a large one a square (LCD DMDs).
_SHAPE_NORMS = {"round": 2.0, "rounded": 4.0, "square": 16.0}


@functools.lru_cache(maxsize=64)
def dot_sprite(pitch: int, fill: float = 0.78, softness: float = 0.18, shape: str = "round") -> np.ndarray:
    """One dot: a disc (or rounded/plain square) filling ``fill`` of the pitch with a soft edge, as a
    pitch x pitch tile."""
    centre = (pitch - 1) / 2
    yy, xx = np.mgrid[0:pitch, 0:pitch]
    norm = _SHAPE_NORMS[shape]
    distance = (np.abs(yy - centre) ** norm + np.abs(xx - centre) ** norm) ** (1 / norm) / (pitch / 2)
    edge = max(softness, 1.0 / pitch)
    sprite = np.clip((fill - distance) / edge + 0.5, 0.0, 1.0)
    return sprite.astype(np.float32)


@dataclass(frozen=True)
class DotRender:
    lit: np.ndarray
    ghost: np.ndarray
    pitch: int


def render_dots(levels: np.ndarray, pitch: int, *, fill: float = 0.78, shape: str = "round") -> DotRender:
    """Draw a grid of dot brightness levels (rows x cols, 0..1) as dots ``pitch`` px apart."""
    sprite = dot_sprite(pitch, round(fill, 2), shape=shape)
    rows, cols = levels.shape
    # Tiling and repeating are plain copies; a 4-d broadcast product is several times slower.
    ghost = np.tile(sprite, (rows, cols))
    lit = levels.astype(np.float32, copy=False).repeat(pitch, axis=0).repeat(pitch, axis=1)
    cv2.multiply(lit, ghost, dst=lit)
    return DotRender(lit, ghost, pitch)
