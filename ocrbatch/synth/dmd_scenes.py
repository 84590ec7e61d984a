"""Dot-matrix (DMD) displays: 128x32 dot matrices in the 5x7 font or pixel fonts drawn from
typefaces, with round, rounded or square dots. ``train`` and ``heldout`` use disjoint dot shapes and
typefaces; held-out rec crops also draw their fonts anti-aliased (4 or 16 shades, where training fonts
light a dot or not) on dots of a size no training crop uses (``DOT_FILLS``). Training crops vary
brightness inside a glyph another way: shaded fills and unevenly aged dots."""

from __future__ import annotations

import numpy as np

from ocrbatch.synth import camera, dotmatrix, looks, texts, typefaces
from ocrbatch.synth.drawings import Drawing, Panel, Recipe, TextBox
from ocrbatch.synth.opencv import cv2

DMD_PALETTE = {"plasma_orange": 6, "amber": 1, "red": 1, "green": 0.5, "blue": 0.5, "white": 0.5}
DOT_SHAPES = {"train": ("round", "rounded"), "heldout": ("square",)}
# How much of the pitch a rec crop's dots fill, as ranges drawn equally often. Held-out panels have
# small dots with wide gaps; training panels have full dots or, since data v11, tiny ones (LED panels
# with small LEDs), on either side of the held-out range and never inside it. Without the tiny ones no
# training crop showed a digit as separate dots, and held-out dot matrices read 74 % with round dots
# at the held-out fill against 97.5 % with square dots at the training fill (400 crops each).
DOT_FILLS = {"train": ((0.3, 0.4), (0.62, 0.76), (0.76, 0.9)), "heldout": ((0.42, 0.6),)}
# A tiny dot needs a pixel at its centre, so an odd pitch of 3 or more: at pitch 2 it would not show,
# and at an even pitch it would light four pixels at a third of its level.
SPARSE_FILL = 0.42
# Share of training rec crops whose lit dots are not all equally bright: games shade score fonts top to
# bottom (or the reverse), and plasma dots age unevenly. Without it a training dot was lit at one level
# per text, and a dim dot could only mean background.
SHADED_SHARE = 0.35


def dot_shading(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Brightness per dot (0.35-1): a vertical ramp, uneven dots, or both."""
    rows, cols = shape
    shading = np.ones(shape, np.float32)
    kind = rng.random()
    if kind < 0.7:
        ramp = np.linspace(rng.uniform(0.35, 0.8), 1.0, rows, dtype=np.float32)
        shading *= (ramp if rng.random() < 0.6 else ramp[::-1])[:, None]
    if kind > 0.4:
        shading *= rng.uniform(0.55, 1.0, shape).astype(np.float32)
    return np.maximum(shading, np.float32(0.35))


def dot_fill(rng: np.random.Generator, renderers: str) -> float:
    """A rec crop's dot fill: one of the renderer set's ranges, then a value in it (a set with one
    range draws one number, as before there were several)."""
    ranges = DOT_FILLS[renderers]
    low, high = ranges[int(rng.integers(len(ranges)))] if len(ranges) > 1 else ranges[0]
    return float(rng.uniform(low, high))


def dmd_text(rng: np.random.Generator, numeric: bool) -> tuple[str, int, bool]:
    """(text, scale, bold): scores in the big font, messages small or big."""
    if numeric or rng.random() < 0.45:
        text = texts.score_text(rng, texts.pick(rng, texts.DMD_SEPARATORS), max_digits=10)
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
    spacing = 1 + int(rng.random() < 0.2)
    # Held-out fonts are anti-aliased (4 or 16 shades); training fonts light a dot or not.
    shades = texts.pick(rng, [4, 16]) if renderers == "heldout" else 0
    return typefaces.pixel_text(text, face, rows, threshold=threshold, bold=bold and rows >= 10,
                                spacing=spacing, shades=shades), rows


def dmd_rec_drawing(recipe: Recipe, rng: np.random.Generator, room: float = 0.0) -> Drawing:
    """A text on a dot matrix with ``room`` glyph heights of unlit dots more on each side."""
    text, scale, bold = dmd_text(rng, recipe.numeric_only)
    dots, rows = dmd_dots(text, scale == 2, bold, recipe, rng)
    pad_rows, pad_cols = int(rng.integers(2, 6)), int(rng.integers(2, 8)) + round(room * rows)
    levels = np.zeros((dots.shape[0] + 2 * pad_rows, dots.shape[1] + 2 * pad_cols), np.float32)
    levels[pad_rows : pad_rows + dots.shape[0], pad_cols : pad_cols + dots.shape[1]] = dots * texts.pick(rng, [1.0, 1.0, 0.8, 0.67])
    # (A held-out recipe draws nothing here, so its crops stay what they were.)
    if recipe.renderer_set(rng) == "train" and rng.random() < SHADED_SHARE:
        levels *= dot_shading(rng, levels.shape)
    pitch = int(np.clip(round(rng.uniform(32, 52) / rows), 2, 6))
    renderers = recipe.renderer_set(rng)
    shape = texts.pick(rng, DOT_SHAPES[renderers])
    fill = dot_fill(rng, renderers)
    if renderers == "train" and fill < SPARSE_FILL:  # (held-out crops stay what they were)
        pitch = max(pitch, 3) | 1
    render = dotmatrix.render_dots(levels, pitch, fill=fill, shape=shape)
    margin = int(rows * pitch * 0.8)
    glass = np.ones_like(render.lit)
    maps = cv2.copyMakeBorder(cv2.merge([render.lit, render.ghost, glass]),
                              margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)
    ys, xs = np.nonzero(dots)
    x0, y0 = margin + (pad_cols + xs.min()) * pitch, margin + (pad_rows + ys.min()) * pitch
    box = (x0, y0, margin + (pad_cols + xs.max() + 1) * pitch, margin + (pad_rows + ys.max() + 1) * pitch)
    return Drawing(maps, [TextBox(text, camera.quad_from_box(*box))], rows * pitch, looks.emissive_look(rng, DMD_PALETTE))


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

    separator = texts.pick(rng, texts.DMD_SEPARATORS)
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
