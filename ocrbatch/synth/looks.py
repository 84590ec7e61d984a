"""How a display looks: colours of lit, unlit and background parts, glow or LCD shadow.

A drawn display is a few float maps in 0..1 (``lit`` segments/dots, ``ghost`` = the unlit
structure, ``window`` = the display glass, and a derived ``halo``: bloom around lit parts of an
emissive display, or the shadow LCD segments cast on their reflector). The picture is a linear mix
of those maps, one colour row each, so colouring any size of image is one small matrix product.
Colours are RGB here; the camera stage writes BGR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ocrbatch.synth.opencv import cv2

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

CHANNELS = ("lit", "ghost", "halo", "window")


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

    def matrix_bgr(self) -> np.ndarray:
        """(channels, 3) colour matrix in BGR order, rows in ``CHANNELS`` order."""
        return np.stack([self.lit, self.ghost, self.halo, self.window])[:, ::-1].astype(np.float32)


def _jitter(rng: np.random.Generator, colour, amount: float) -> np.ndarray:
    c = np.clip(np.asarray(colour, float) + rng.uniform(-amount, amount, 3), 0, None)
    return c / max(c.max(), 1e-6)


def emissive_look(rng: np.random.Generator, palette: dict[str, float] | None = None) -> Look:
    """A glowing display (plasma, LED, VFD): faint unlit structure on near-black glass."""
    names = list(EMISSIVE_COLOURS)
    weights = np.array([palette.get(n, 0.0) for n in names] if palette else [1.0] * len(names))
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    colour = _jitter(rng, EMISSIVE_COLOURS[name], 0.08)
    gain = rng.uniform(0.75, 1.35)
    whiteness = rng.uniform(0.0, 0.3) ** 2  # overexposed cores burn towards white
    lit = colour * gain + whiteness
    glass = np.array([0.02, 0.02, 0.025]) + rng.uniform(0, 0.05) * _jitter(rng, (0.6, 0.6, 0.7), 0.3)
    bezel = rng.uniform(0.0, 0.18) * _jitter(rng, (0.8, 0.8, 0.8), 0.2)
    structure = rng.uniform(0.03, 0.16)  # ghosting: unlit segments/dots catch some light
    ghost = structure * (0.7 * _jitter(rng, (0.8, 0.78, 0.72), 0.1) + 0.3 * colour)
    halo = colour * rng.uniform(0.15, 0.8)
    return Look(name, bezel, glass - bezel, lit, ghost, halo, halo_sigma=rng.uniform(0.04, 0.16))


def lcd_look(rng: np.random.Generator) -> Look:
    """Dark segments on a light (often green) background, with the shadow they cast."""
    name = str(rng.choice(list(LCD_BACKGROUNDS)))
    background = _jitter(rng, LCD_BACKGROUNDS[name], 0.06) * rng.uniform(0.7, 1.0)
    segment = rng.uniform(0.05, 0.2) * _jitter(rng, (0.7, 0.8, 0.75), 0.2)
    opacity = rng.uniform(0.75, 0.97)
    bezel = rng.uniform(0.02, 0.3) * _jitter(rng, (0.8, 0.8, 0.8), 0.1)
    lit = (segment - background) * opacity
    ghost = (segment - background) * rng.uniform(0.0, 0.07)
    halo = -background * rng.uniform(0.08, 0.3)
    shift = (rng.uniform(0.02, 0.06), rng.uniform(0.02, 0.06))
    return Look(name, bezel, background - bezel, lit, ghost, halo, halo_sigma=rng.uniform(0.01, 0.04), halo_shift=shift)


def halo_map(lit: np.ndarray, look: Look, glyph_px: float) -> np.ndarray:
    """Bloom (emissive) or cast shadow (LCD) of the lit map, sized in glyph heights."""
    sigma = max(look.halo_sigma * glyph_px, 0.5)
    dx, dy = look.halo_shift
    source = lit
    if dx or dy:
        shift = np.float32([[1, 0, dx * glyph_px], [0, 1, dy * glyph_px]])
        source = cv2.warpAffine(lit, shift, (lit.shape[1], lit.shape[0]), flags=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(source, (0, 0), sigma)


def compose(maps: np.ndarray, look: Look, base: np.ndarray | None = None) -> np.ndarray:
    """Colour stacked maps (H, W, 4 in ``CHANNELS`` order) into a BGR float image.

    ``base`` (BGR, H x W x 3) replaces the flat bezel colour, e.g. a cabinet scene around a frame.
    """
    matrix = look.matrix_bgr().T  # (3 out, 4 in): cv2.transform is a per-pixel matrix product
    if base is None:
        matrix = np.hstack([matrix, look.bezel[::-1, None].astype(np.float32)])
        return cv2.transform(maps, matrix)
    image = cv2.transform(maps, matrix)
    image += base
    return image
