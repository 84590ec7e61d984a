"""Outline fonts for LCD score screens and dot-matrix lettering, from font packages installed from PyPI.

Modern pinball LCDs draw scores in ordinary (often heavy) typefaces, and dot-matrix games use pixel
fonts that designers drew from such typefaces. Both are made here from the OFL/Apache-licensed font
files that the ``font-*`` packages ship, and DejaVu, STIX and Computer Modern (free licences) from
matplotlib, all installed with the ``train`` extra; nothing is fetched at run time. The files are found
through each package's install location, without importing it.

Families are split into two renderer sets: ``train`` families are what a model learns from, and
``heldout`` families are drawn only for the held-out-renderer evaluation (``bench/generalization.py``),
so a score there measures reading digits rather than recognising one renderer.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocrbatch.errors import OcrbatchError

# family -> (renderer set, where its files are installed: a package and the folder inside it, file name
# stems to use); every family spans several weights. DejaVu comes with matplotlib (the train extra has
# it for the run's page): the face a Linux machine draws with unless told otherwise, Mono included;
# so do a Times-like serif (STIX, OFL) and Computer Modern (roman, sans and typewriter; BaKoMa's free
# licence), which add serif and monospaced digit shapes to what a model learns from (since data v7).
FAMILIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "lato": ("train", "font_lato/files", ("Lato-Regular", "Lato-Bold", "Lato-Black", "Lato-Italic", "Lato-BoldItalic", "Lato-Light")),
    "manrope": ("train", "font_manrope/files", ("Manrope-Regular", "Manrope-SemiBold", "Manrope-ExtraBold", "Manrope-Light")),
    "source-sans-pro": ("train", "font_source_sans_pro/files", ("SourceSansPro-Regular", "SourceSansPro-Bold", "SourceSansPro-Black",
                                                               "SourceSansPro-It", "SourceSansPro-BoldIt")),
    "hanken-grotesk": ("train", "font_hanken_grotesk/files", ("HankenGrotesk-Regular", "HankenGrotesk-Bold",
                                                             "HankenGrotesk-SemiBoldItalic")),
    "caladea": ("train", "font_caladea/files", ("Caladea-Regular", "Caladea-Bold", "Caladea-BoldItalic")),
    "fredoka-one": ("train", "font_fredoka_one/files", ("FredokaOne-Regular",)),
    "roboto": ("train", "font_roboto/files", ("Roboto-Regular", "Roboto-Medium", "Roboto-Bold", "Roboto-Black", "Roboto-Italic")),
    "dejavu": ("train", "matplotlib/mpl-data/fonts/ttf", ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-BoldOblique",
                                                         "DejaVuSansMono", "DejaVuSansMono-Bold")),
    "dejavu-serif": ("train", "matplotlib/mpl-data/fonts/ttf", ("DejaVuSerif", "DejaVuSerif-Bold", "DejaVuSerif-BoldItalic")),
    "stix": ("train", "matplotlib/mpl-data/fonts/ttf", ("STIXGeneral", "STIXGeneralBol", "STIXGeneralItalic", "STIXGeneralBolIta")),
    "computer-modern": ("train", "matplotlib/mpl-data/fonts/ttf", ("cmr10", "cmb10", "cmss10", "cmtt10")),
    "red-hat-display": ("heldout", "font_rhd/files", ("RedHatDisplay-Regular", "RedHatDisplay-Bold", "RedHatDisplay-Black",
                                                      "RedHatDisplay-MediumItalic", "RedHatDisplay-ExtraBoldItalic")),
    "source-serif-pro": ("heldout", "font_source_serif_pro/files", ("SourceSerifPro-Regular", "SourceSerifPro-Bold",
                                                                   "SourceSerifPro-Black")),
    "fjalla-one": ("heldout", "font_fjallaone/files", ("FjallaOne-Regular",)),
}
RENDERER_SETS = ("train", "heldout", "all")


@dataclass(frozen=True)
class Face:
    family: str
    path: str


def _installed_dir(location: str) -> Path | None:
    """``package/folder`` as a path in the installed package, found without importing it."""
    package, _, folder = location.partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / folder


def _font_file(folder: Path, stem: str) -> Path | None:
    return next((path for path in (folder / f"{stem}.ttf", folder / f"{stem}.otf") if path.is_file()), None)


@functools.lru_cache(maxsize=None)
def faces(renderers: str) -> tuple[Face, ...]:
    """The font files of one renderer set (``all``: both), in a fixed order.

    Every family must be there: a missing one would quietly change what a seed generates."""
    found = []
    for family, (split, location, stems) in FAMILIES.items():
        if renderers != "all" and split != renderers:
            continue
        folder = _installed_dir(location)
        files = [_font_file(folder, stem) if folder else None for stem in stems]
        if None in files:
            raise OcrbatchError(
                f"the {family} typeface is not installed ({location.split('/')[0]}): the synth LCD and "
                "dot-matrix styles need the font packages of the train extra (pip install 'ocrbatch[train]')"
            )
        found.extend(Face(family, str(path)) for path in files)
    return tuple(found)


@functools.lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@functools.lru_cache(maxsize=8192)
def _glyph(ch: str, path: str, size: int, stroke: int) -> tuple[np.ndarray, int, int, float, tuple[int, int, int, int]]:
    """One character's coverage (float), where its mask sits relative to the pen position (x, y),
    its advance, and its unstroked ink box relative to the pen. Rendered once per process."""
    font = _font(path, size)
    pad = stroke + 2
    left, top, right, bottom = font.getbbox(ch, stroke_width=stroke)
    image = Image.new("L", (max(1, right - left + 2 * pad), max(1, bottom - top + 2 * pad)), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), ch, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    ink = font.getbbox(ch)
    mask = np.asarray(image, np.float32) * np.float32(1 / 255)
    return mask, left - pad, top - pad, font.getlength(ch), ink


def text_mask(text: str, face: Face, size: int, *, stroke: int = 0, tracking: float = 0.0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Anti-aliased coverage (float 0..1) of ``text`` in ``face`` at ``size`` px, and the ink box.

    ``tracking`` adds that share of the size between characters (scores are often letter-spaced);
    ``stroke`` widens every stroke by that many pixels (an outline's outer edge). The mask has a
    margin of ``size // 2`` around the text; the box (x0, y0, x1, y1) is where the ink of the
    unstroked text is. Characters are cached glyph masks laid side by side (no kerning, as on
    a game's score font).
    """
    margin = size // 2 + stroke
    glyphs = [_glyph(ch, face.path, size, stroke) for ch in text]
    pens, x = [], float(margin)
    for glyph in glyphs:
        pens.append(x)
        x += glyph[3] + tracking * size
    ascent, descent = _font(face.path, size).getmetrics()
    mask = np.zeros((ascent + descent + 2 * margin, int(x + margin + size)), np.float32)
    boxes = []
    for ch, pen, (glyph, dx, dy, _, ink) in zip(text, pens, glyphs):
        gx, gy = int(round(pen)) + dx, margin + dy
        region = mask[gy : gy + glyph.shape[0], gx : gx + glyph.shape[1]]
        np.maximum(region, glyph[: region.shape[0], : region.shape[1]], out=region)
        if not ch.isspace():
            boxes.append((int(round(pen)) + ink[0], margin + ink[1], int(round(pen)) + ink[2], margin + ink[3]))
    if not boxes:
        return mask, (margin, margin, margin + 1, margin + 1)
    return mask, (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


@functools.lru_cache(maxsize=512)
def _pixel_size(path: str, rows: int) -> int:
    """The font size whose digit height is ``rows`` pixels ("0" is as tall as the capitals)."""
    size = max(6, round(rows * 1.45))
    for _ in range(4):
        _, top, _, bottom = _font(path, size).getbbox("0")
        if bottom - top == rows:
            break
        size = max(6, round(size * rows / max(1, bottom - top)))
    return size


@functools.lru_cache(maxsize=8192)
def _pixel_coverage(ch: str, path: str, rows: int) -> np.ndarray:
    """Coverage of one character on a grid of one pixel per dot, cap top on row 0; comma and
    period keep their drop below the line."""
    font = _font(path, _pixel_size(path, rows))
    cap_top = font.getbbox("0")[1]
    box = font.getbbox(ch)
    width = max(1, box[2] - min(box[0], 0)) + 2
    image = Image.new("L", (width, rows + rows // 4 + 1), 0)
    ImageDraw.Draw(image).text((-min(box[0], 0) + 1, -cap_top), ch, font=font, fill=255)
    return np.asarray(image, np.float32) / 255


def pixel_glyph(ch: str, face: Face, rows: int, threshold: float, bold: bool, shades: int = 0) -> np.ndarray:
    """One character as a dot grid ``rows`` dots high from the cap height: a DMD font drawn from a
    typeface, the way game artists made theirs (``threshold``: how much ink lights a dot).

    ``shades`` > 1 draws it anti-aliased instead, as later DMDs with 4 or 16 brightness levels
    show their fonts: each dot lit by its ink coverage, rounded to that many levels (float 0..1)."""
    coverage = _pixel_coverage(ch, face.path, rows)
    if shades > 1:
        grid = np.round(coverage * (shades - 1)) / (shades - 1)
    else:
        grid = coverage >= threshold
    if ch in ",.":
        grid = _legible_separator(ch, grid, coverage, face, rows)
    if bold:
        grid = np.concatenate([grid, np.zeros((grid.shape[0], 1), grid.dtype)], axis=1)
        grid[:, 1:] = np.maximum(grid[:, 1:], grid[:, :-1].copy())
    columns = np.flatnonzero(grid.any(axis=0))
    if columns.size == 0:
        return np.zeros((grid.shape[0], max(2, rows // 3)), grid.dtype)
    return grid[:, columns[0] : columns[-1] + 1]


def _legible_separator(ch: str, grid: np.ndarray, coverage: np.ndarray, face: Face, rows: int) -> np.ndarray:
    """A period or comma as a DMD artist would keep it: at least one lit dot, and a comma that reaches
    below the period's lowest dot. Thin light faces at a few rows lose both to the threshold (a
    label "5,277,520" over dots that show 5.277.520, or over no separator at all)."""
    grid = grid.copy()
    if not (grid > 0).any():
        grid[np.unravel_index(int(np.argmax(coverage)), grid.shape)] = 1
    if ch == ",":
        period = _pixel_coverage(".", face.path, rows)
        baseline = int(np.flatnonzero((period >= period.max() / 2).any(axis=1)).max())
        lowest = int(np.flatnonzero((grid > 0).any(axis=1)).max())
        if lowest <= baseline and lowest + 1 < grid.shape[0]:
            left = int(np.flatnonzero(grid[lowest] > 0).min())
            if left == 0:  # room for the tail on the left
                grid = np.concatenate([np.zeros((grid.shape[0], 1), grid.dtype), grid], axis=1)
                left = 1
            grid[lowest + 1, left - 1] = 1
    return grid


def pixel_text(text: str, face: Face, rows: int, *, threshold: float = 0.5, bold: bool = False,
               spacing: int = 1, shades: int = 0) -> np.ndarray:
    """A string on a dot grid: glyphs from ``pixel_glyph`` side by side, ``spacing`` dark columns apart.
    A space is as wide as half the row count. Boolean, or float levels with ``shades``."""
    kind = np.float32 if shades > 1 else bool
    parts = []
    height = rows + rows // 4 + 1
    for i, ch in enumerate(text):
        if i:
            parts.append(np.zeros((height, spacing), kind))
        if ch == " ":
            parts.append(np.zeros((height, max(2, rows // 2)), kind))
        else:
            parts.append(pixel_glyph(ch, face, rows, threshold, bold, shades).astype(kind, copy=False))
    return np.concatenate(parts, axis=1) if parts else np.zeros((height, 0), kind)
