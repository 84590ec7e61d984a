"""How a display looks: colours of lit, unlit and background parts, glow or LCD shadow.

A drawn display is a few float maps in 0..1 (``lit`` segments/dots, ``ghost`` = the unlit
structure, ``window`` = the display glass, and a derived ``halo``: bloom around lit parts of an
emissive display, or the shadow LCD segments cast on their reflector). The picture is a linear mix
of those maps, one colour row each, so colouring any size of image is one small matrix product.
Colours are RGB here; the camera stage writes BGR.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ocrbatch.synth.opencv import cv2
from ocrbatch.synth.texts import pick, pick_weighted

# Emissive displays: gas plasma (orange, most pinball machines 1977-1998), then LED and VFD refits.
EMISSIVE_COLOURS = {
    "plasma_orange": (1.0, 0.40, 0.07),
    "amber": (1.0, 0.66, 0.10),
    "red": (1.0, 0.12, 0.06),
    "green": (0.35, 1.0, 0.30),
    "vfd_cyan": (0.30, 1.0, 0.80),
    "blue": (0.25, 0.50, 1.0),
    "white": (0.90, 0.92, 1.0),
}
# Reflective/backlit LCD backgrounds: grey-green, yellow-green backlight, pale grey, blue backlight.
LCD_BACKGROUNDS = {
    "grey_green": (0.70, 0.75, 0.60),
    "yellow_green": (0.62, 0.80, 0.32),
    "pale_grey": (0.80, 0.80, 0.75),
    "blue": (0.50, 0.68, 0.92),
}


@dataclass(frozen=True)
class Look:
    """Colour rows (RGB) for each map, and how the halo is made."""

    name: str
    bezel: np.ndarray  # what is outside the display window
    window: np.ndarray  # window background minus bezel
    lit: np.ndarray
    ghost: np.ndarray
    halo: np.ndarray
    halo_sigma: float  # in glyph heights
    halo_shift: tuple[float, float] = (0.0, 0.0)  # in glyph heights (LCD shadow offset)

    @property
    def background(self) -> np.ndarray:
        return self.bezel + self.window


def _jitter(rng: np.random.Generator, colours, amounts) -> np.ndarray:
    """Each row of ``colours`` moved by up to its amount per channel, then scaled to peak 1.

    All rows in one draw: a sample picks several colours, and small numpy calls cost more than
    their arithmetic.
    """
    c = np.asarray(colours, float) + rng.uniform(-1.0, 1.0, (len(amounts), 3)) * np.asarray(amounts, float)[:, None]
    np.maximum(c, 0.0, out=c)
    return c / np.maximum(c.max(axis=1, keepdims=True), 1e-6)


def _uniforms(rng: np.random.Generator, lows: tuple[float, ...], highs: tuple[float, ...]) -> list[float]:
    """One uniform draw per (low, high) pair, as floats (rng.uniform with tuple bounds is 4x slower)."""
    return [lo + (hi - lo) * u for lo, hi, u in zip(lows, highs, rng.random(len(lows)).tolist())]


def emissive_look(rng: np.random.Generator, palette: dict[str, float] | None = None) -> Look:
    """A glowing display (plasma, LED, VFD): faint unlit structure on near-black glass."""
    names = tuple(EMISSIVE_COLOURS)
    weights = [palette.get(n, 0.0) for n in names] if palette else [1.0] * len(names)
    name = pick_weighted(rng, names, tuple(itertools.accumulate(weights)))
    colour, glass_tint, bezel_tint, ghost_tint = _jitter(
        rng, (EMISSIVE_COLOURS[name], (0.6, 0.6, 0.7), (0.8, 0.8, 0.8), (0.8, 0.78, 0.72)), (0.08, 0.3, 0.2, 0.1)
    )
    gain, whiteness, glass_level, bezel_level, structure, halo_level, halo_sigma = _uniforms(
        rng, (0.75, 0.0, 0.0, 0.0, 0.03, 0.15, 0.04), (1.35, 0.3, 0.05, 0.18, 0.16, 0.8, 0.16)
    )
    lit = colour * gain + whiteness**2  # overexposed cores burn towards white
    glass = np.array([0.02, 0.02, 0.025]) + glass_level * glass_tint
    bezel = bezel_level * bezel_tint
    ghost = structure * (0.7 * ghost_tint + 0.3 * colour)  # ghosting: unlit segments/dots catch some light
    halo = colour * halo_level
    return Look(name, bezel, glass - bezel, lit, ghost, halo, halo_sigma=halo_sigma)


def lcd_look(rng: np.random.Generator) -> Look:
    """Dark segments on a light (often green) background, with the shadow they cast."""
    name = pick(rng, tuple(LCD_BACKGROUNDS))
    background, segment_tint, bezel_tint = _jitter(
        rng, (LCD_BACKGROUNDS[name], (0.7, 0.8, 0.75), (0.8, 0.8, 0.8)), (0.06, 0.2, 0.1)
    )
    brightness, segment_level, opacity, bezel_level, ghost_level, halo_level, halo_sigma, dx, dy = _uniforms(
        rng, (0.7, 0.05, 0.75, 0.02, 0.0, 0.08, 0.01, 0.02, 0.02), (1.0, 0.2, 0.97, 0.3, 0.07, 0.3, 0.04, 0.06, 0.06)
    )
    background = background * brightness
    segment = segment_level * segment_tint
    bezel = bezel_level * bezel_tint
    lit = (segment - background) * opacity
    ghost = (segment - background) * ghost_level
    halo = -background * halo_level
    return Look(name, bezel, background - bezel, lit, ghost, halo, halo_sigma=halo_sigma, halo_shift=(dx, dy))


def halo_map(lit: np.ndarray, look: Look, glyph_px: float) -> np.ndarray:
    """Bloom (emissive) or cast shadow (LCD) of the lit map, sized in glyph heights."""
    sigma = max(look.halo_sigma * glyph_px, 0.5)
    dx, dy = look.halo_shift
    source = lit
    if dx or dy:
        shift = np.float32([[1, 0, dx * glyph_px], [0, 1, dy * glyph_px]])
        source = cv2.warpAffine(lit, shift, (lit.shape[1], lit.shape[0]), flags=cv2.INTER_LINEAR)
    h, w = source.shape
    if sigma < 2.5 or min(h, w) < 16:
        return cv2.GaussianBlur(source, (0, 0), sigma)
    # A wide glow is smooth: blur it at half resolution (a quarter of the work), then scale back up.
    # Halving and doubling blur a little themselves (about 0.75 px^2 of variance), which the half-size
    # blur leaves out; the result is within 2-3% of the full-size blur's peak.
    small = cv2.resize(source, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)
    small_sigma = math.sqrt(sigma * sigma - 0.75) / 2
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), small_sigma), (w, h), interpolation=cv2.INTER_LINEAR)


def add_tinted(image: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    """image += mask x colour (BGR), in place: one grey-to-3-channel copy and a 3x3 transform,
    several times faster than numpy broadcasting over a last axis of 3."""
    tinted = cv2.transform(cv2.cvtColor(mask, cv2.COLOR_GRAY2BGR), np.diag(np.float32(colour)))
    cv2.add(image, tinted, dst=image)


def compose(maps: np.ndarray, halo: np.ndarray, look: Look, base: np.ndarray | None = None) -> np.ndarray:
    """Colour warped maps (H, W, k: lit, ghost, window[, panel]) and the halo into a BGR float image.

    ``base`` (BGR, H x W x 3) replaces the flat bezel colour, e.g. a cabinet scene around a frame.
    """
    # cv2.transform: 3 out (BGR) x (lit, ghost, window, offset); colours are RGB, hence [::-1].
    offset = look.bezel if base is None else np.zeros(3)
    matrix = np.stack([look.lit, look.ghost, look.window, offset], axis=1)[::-1].astype(np.float32)
    if maps.shape[2] == 3:
        image = cv2.transform(maps, matrix)
    else:  # OpenCV's fast transforms are square: colour 4 -> 4, then drop the 4th channel
        square = np.zeros((4, 5), np.float32)
        square[:3, :3], square[:3, 4] = matrix[:, :3], matrix[:, 3]
        image = cv2.cvtColor(cv2.transform(maps, square), cv2.COLOR_BGRA2BGR)
    add_tinted(image, halo, look.halo[::-1])
    if base is not None:
        cv2.add(image, base, dst=image)
    return image
