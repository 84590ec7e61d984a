"""What a phone camera does to a display: perspective, blur, glare on the glass, exposure, colour
balance, sensor noise, low resolution, and JPEG artefacts.

Every function takes the sample's random generator, so one seed gives one picture. Geometry works
on the drawn maps before colouring (one warp for all of them); the rest works on the small
output image, which keeps each sample to well under a millisecond.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from ocrbatch.synth import looks
from ocrbatch.synth.opencv import cv2


def quad_from_box(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Corners clockwise from top-left, the order PaddleOCR's detection labels use."""
    return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def jitter_quad(rng: np.random.Generator, quad: np.ndarray, amount: float, rotation: float = 0.0) -> np.ndarray:
    """Rotate the quad about its centre (radians), then move each corner by up to ``amount`` of its
    height: a change of viewpoint."""
    # Plain floats: on four points, numpy's per-call overhead is most of the cost.
    points = quad.tolist()
    height = math.hypot(points[3][0] - points[0][0], points[3][1] - points[0][1])
    cx, cy = sum(p[0] for p in points) / 4, sum(p[1] for p in points) / 4
    c, s = math.cos(rotation), math.sin(rotation)
    rotated = [((x - cx) * c - (y - cy) * s + cx, (x - cx) * s + (y - cy) * c + cy) for x, y in points]
    return (rng.uniform(-amount, amount, (4, 2)) * height + rotated).astype(np.float32)


# A sensor pixel adds up all the light that falls on it; a bilinear warp reads the drawing at one point
# per pixel. Shrinking a drawing by more than this, the warp is left only the last step: the drawing is
# first averaged down to about the picture's scale. Before data v11 it was not, and a dot matrix shrunk
# to a pixel or so a dot came out as a few stray blobs where some dots fell on the sampling points and
# the rest between them: scores no one could read, with the score as their label.
SHRINK_BY_AREA = 1.5


def warp_maps(maps: np.ndarray, src_quad: np.ndarray, dst_quad: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Map the drawn maps so that src_quad lands on dst_quad in an image of ``size`` (w, h), each
    picture pixel the mean of the drawing over its area (``SHRINK_BY_AREA``)."""
    src_quad = np.float32(src_quad)
    shrink = math.sqrt(abs(cv2.contourArea(src_quad)) / max(abs(cv2.contourArea(np.float32(dst_quad))), 1.0))
    if shrink > SHRINK_BY_AREA:
        h, w = maps.shape[:2]
        small = (max(1, round(w / shrink)), max(1, round(h / shrink)))
        maps = cv2.resize(maps, small, interpolation=cv2.INTER_AREA)
        # Pixel centres: drawing x lands on (x + 0.5) * small / w - 0.5.
        src_quad = (src_quad + 0.5) * np.float32([small[0] / w, small[1] / h]) - 0.5
    homography = cv2.getPerspectiveTransform(src_quad, np.float32(dst_quad))
    warped = cv2.warpPerspective(maps, homography, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return warped.reshape(size[1], size[0], -1)


def project(points: np.ndarray, src_quad: np.ndarray, dst_quad: np.ndarray) -> np.ndarray:
    """Where points of the drawing end up after the same warp."""
    homography = cv2.getPerspectiveTransform(np.float32(src_quad), np.float32(dst_quad))
    return cv2.perspectiveTransform(np.float32(points).reshape(-1, 1, 2), homography).reshape(-1, 2)


# Glare may wash text out, but not away: at stroke scale, the lighter of text and surround stays at
# least GLARE_CONTRAST brighter (relative to itself) than the darker once the glare has lifted both and
# the exposure has clipped. Unbounded, strong glare under a bright exposure whited out digits that the
# label keeps (on light LCD windows and glowing displays alike): a lie to train on, and a miss no
# reader could avoid.
GLARE_CONTRAST = 0.35


def _text_mask(lit: np.ndarray) -> np.ndarray:
    # Relative: warped down to a crop, the small dots of a sparse dot matrix no longer reach 0.5.
    return lit > 0.5 * max(float(lit.max()), 0.05)


def _stroke_regions(lit: np.ndarray, text_px: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(text, strokes, around, stroke) for a text ``text_px`` high in the picture: the text mask, the
    text widened by the stroke radius (``stroke`` pixels), and widened once more as far."""
    text = _text_mask(lit)
    stroke = max(1, round(text_px / 10))
    strokes = cv2.dilate(text.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * stroke + 1,) * 2))
    around = cv2.dilate(strokes, np.ones((3, 3), np.uint8), iterations=stroke)
    return text, strokes > 0, around > 0, stroke


def glare_room(image: np.ndarray, lit: np.ndarray, clip: float = 1.0, text_px: float = 24.0) -> float:
    """How much glare (added light, 0-1 scale) the text in ``image`` takes before it washes away
    under an exposure that saturates at level ``clip``.

    ``lit`` is the drawing's text mask at the image's size, ``text_px`` the text's height there. Tones
    are taken as a reader sees them, at stroke scale: the dots of a dot matrix and the gaps between
    them average out (their cores alone, a percent of the picture, said the text was bright).
    """
    text, strokes, around, stroke = _stroke_regions(lit, text_px)
    if not text.any():
        return math.inf
    ring = around & ~strokes & (lit < 0.05)
    grey = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (0, 0), stroke / 2)
    tones = [float(np.median(grey[text]))] + ([float(np.median(grey[ring]))] if ring.any() else [])
    darker, lighter = min(tones), max(tones)
    # (min(lighter + g, clip) - (darker + g)) / min(lighter + g, clip) >= GLARE_CONTRAST, solved for g:
    # the first bound holds while the lighter tone stays under the clip, the second once it is clipped.
    keep = 1 - GLARE_CONTRAST
    return max(0.0, min((keep * lighter - darker) / GLARE_CONTRAST, keep * clip - darker))


# How far (CIE76 Delta E; about 2 is just noticeable) a colour must be from the text's to set it apart.
DISTINCT = 12.0


def weakest_contrast(image: np.ndarray, lit: np.ndarray, text_px: float) -> float:
    """The share of the text's surround that stands clearly apart from the text (DISTINCT or more in
    colour), where along the text it is lowest: 0 where some part of the text is gone, up to 1.

    Judged in windows about half a glyph height wide, because a label is a lie as soon as one
    character is gone (a crop whose first four digits had vanished into a background of their own
    colour still stood out over the whole text); in colour, because teal digits on a purple screen
    read well at equal lightness; and as a share of the surround rather than its mean colour, because
    a dark outline and a light background around light text average out to the text's own colour.
    Seen sharp (a blur of under a pixel, for the noise): at stroke scale, thin strokes took the colour
    of what surrounds them. So it does not judge the dots of a dot matrix, which only a blur joins into
    strokes. ``image`` is the finished picture (8-bit BGR), ``lit`` its text map.
    """
    text, _, around, _ = _stroke_regions(lit, text_px)
    columns = np.flatnonzero(text.any(axis=0))
    if columns.size == 0:
        return 0.0
    span = slice(int(columns[0]), int(columns[-1]) + 1)
    step = max(2, round(text_px / 2))
    starts = np.arange(0, span.stop - span.start, step)
    # 8-bit Lab (a lookup table; the float conversion costs half a millisecond a call) back to units.
    lab = cv2.cvtColor(cv2.GaussianBlur(image, (0, 0), 0.75)[:, span], cv2.COLOR_BGR2Lab).astype(np.float32)
    lab -= np.float32([0, 128, 128])
    lab[:, :, 0] *= np.float32(100 / 255)
    text, surround = text[:, span], around[:, span] & (lit[:, span] < 0.05)

    def per_window(values: np.ndarray) -> np.ndarray:  # column sums, then summed over each window
        return np.add.reduceat(values.sum(axis=0), starts, axis=0)

    on_count = per_window(text.astype(np.float32))
    text_colour = per_window(lab * text[:, :, None]) / np.maximum(on_count, 1)[:, None]
    own = text_colour[np.minimum(np.arange(lab.shape[1]) // step, len(starts) - 1)]  # each column's window
    apart = (np.linalg.norm(lab - own[None], axis=2) >= DISTINCT) & surround
    off_count = per_window(surround.astype(np.float32))
    share = per_window(apart.astype(np.float32)) / np.maximum(off_count, 1)
    # Windows with hardly any stroke (a gap between words, the last sliver) or no surround say nothing.
    judged = share[(on_count >= 3) & (off_count >= 3)]
    return float(judged.min()) if judged.size else 0.0


def add_glare(image: np.ndarray, rng: np.random.Generator, strength: float, lit: np.ndarray | None = None,
              clip: float = 1.0, text_px: float = 24.0) -> None:
    """A soft reflection on the glass: a bright band at a random angle, or a round hot spot. Given
    the text mask ``lit`` and the level where the exposure will ``clip``, the glare is dimmed where
    needed so that the text stays legible."""
    h, w = image.shape[:2]
    colour = (0.85 + 0.15 * rng.random(3)).astype(np.float32) * strength
    if rng.random() < 0.5:
        angle = rng.uniform(0, np.pi)
        xs = np.arange(w, dtype=np.float32)[None, :] * np.float32(np.cos(angle))
        ys = np.arange(h, dtype=np.float32)[:, None] * np.float32(np.sin(angle))
        position = rng.uniform(-0.2, 1.2) * (abs(np.cos(angle)) * w + abs(np.sin(angle)) * h)
        width = rng.uniform(0.08, 0.5) * max(h, w * 0.3)
        distance = np.add.outer(ys[:, 0], xs[0] - np.float32(position))  # the one full-size numpy pass
        cv2.multiply(distance, distance, dst=distance, scale=-1.0 / width**2)
        profile = cv2.exp(distance)
    else:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(0.1, 0.6) * w, rng.uniform(0.3, 1.5) * h
        gx = np.exp(-(((np.arange(w, dtype=np.float32) - cx) / rx) ** 2))
        gy = np.exp(-(((np.arange(h, dtype=np.float32) - cy) / ry) ** 2))
        profile = np.outer(gy, gx).astype(np.float32, copy=False)
    if lit is not None:
        on_text = float(profile[_text_mask(lit)].max(initial=0.0)) * float(colour.max())
        if on_text > 0:
            colour *= np.float32(min(1.0, glare_room(image, lit, clip, text_px) / on_text))
    looks.add_tinted(image, profile, colour)


def add_reflection(image: np.ndarray, rng: np.random.Generator, strength: float) -> None:
    """The room mirrored in the glass: faint, out-of-focus colour fields over the whole picture."""
    h, w = image.shape[:2]
    coarse = rng.uniform(0, 1, (int(rng.integers(2, 4)), int(rng.integers(2, 7)), 3)).astype(np.float32)
    cv2.add(image, cv2.resize(coarse * np.float32(strength), (w, h), interpolation=cv2.INTER_LINEAR), dst=image)


NOISE_TILES = ((256, 640), (800, 1024))  # a small one for crops (it stays in cache), a big one for frames


@functools.lru_cache(maxsize=None)
def _noise_tile(shape: tuple[int, int]) -> np.ndarray:
    # Fixed seed: the tile is part of the generator, not of a sample, so every process shares it.
    return np.random.default_rng(20241129).standard_normal((*shape, 3), dtype=np.float32)


def add_noise(image: np.ndarray, rng: np.random.Generator, sigma: float) -> None:
    """Sensor noise (partly per channel): a random window of a fixed noise tile, scaled."""
    h, w = image.shape[:2]
    small = NOISE_TILES[0]
    tile = _noise_tile(small if h <= small[0] // 2 and w <= small[1] // 2 else NOISE_TILES[1])
    reps_y, reps_x = -(-h // tile.shape[0]), -(-w // tile.shape[1])
    if reps_y > 1 or reps_x > 1:
        tile = np.tile(tile, (reps_y + 1, reps_x + 1, 1))
    y = int(rng.integers(0, tile.shape[0] - h + 1))
    x = int(rng.integers(0, tile.shape[1] - w + 1))
    cv2.scaleAdd(tile[y : y + h, x : x + w], float(sigma), image, dst=image)  # one pass, no temporary


def _motion_kernel(length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.cos(angle) * c, np.sin(angle) * c
    cv2.line(kernel, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))), 1.0, 1)
    return kernel / kernel.sum()


@functools.lru_cache(maxsize=32)
def _disk_kernel(radius: float) -> np.ndarray:
    size = 2 * math.ceil(radius) + 1
    kernel = np.zeros((size, size), np.float32)
    c = size // 2
    cv2.circle(kernel, (c * 16, c * 16), int(round(radius * 16)), 1.0, -1, lineType=cv2.LINE_AA, shift=4)
    return kernel / kernel.sum()


def blur(image: np.ndarray, rng: np.random.Generator, text_px: float, heldout: bool = False,
         strength: float = 1.0) -> np.ndarray:
    """Out of focus or hand shake (a short motion streak), relative to text height.

    A lens out of focus spreads light over a disc (``heldout`` cameras); the training cameras blur
    with a Gaussian, so a model judged on the held-out set has never seen a disc-shaped blur.
    """
    roll = rng.random()
    if heldout and roll < 0.45:
        radius = rng.uniform(0.5, (0.06 * text_px + 0.5) * strength)
        return cv2.filter2D(image, -1, _disk_kernel(round(radius * 4) / 4))
    if roll < 0.45:
        sigma = rng.uniform(0.2, (0.045 * text_px + 0.3) * strength)
        # Kernel cut at 3 sigma (OpenCV's float default is 4): 0.3% of the weight, a third fewer taps.
        size = 2 * math.ceil(3 * sigma) + 1
        return cv2.GaussianBlur(image, (size, size), sigma)
    if roll < 0.6:
        length = int(rng.integers(3, max(4, int(text_px * 0.12 * strength)) + 1))
        return cv2.filter2D(image, -1, _motion_kernel(length, rng.uniform(0, np.pi)))
    return image


def add_scanlines(image: np.ndarray, rng: np.random.Generator, strength: float) -> None:
    """A screen filmed through its own refresh or line structure: dark horizontal bands every few rows."""
    h, w = image.shape[:2]
    period = rng.uniform(2.0, 6.0)
    rows = np.arange(h, dtype=np.float32)
    profile = 1.0 - strength * (0.5 + 0.5 * np.cos(2 * np.pi * rows / period + rng.uniform(0, 2 * np.pi)))
    cv2.multiply(image, cv2.merge([np.repeat(profile[:, None], w, axis=1).astype(np.float32)] * 3), dst=image)


def add_moire(image: np.ndarray, rng: np.random.Generator, strength: float) -> None:
    """The beat between a display's pixel grid and the camera's: slanted, slowly varying light and dark
    fringes (held-out cameras only)."""
    h, w = image.shape[:2]
    angle, period = rng.uniform(0, np.pi), rng.uniform(5.0, 24.0)
    xs = np.arange(w, dtype=np.float32)[None, :] * np.float32(np.cos(angle))
    ys = np.arange(h, dtype=np.float32)[:, None] * np.float32(np.sin(angle))
    phase = (xs + ys) * np.float32(2 * np.pi / period) + np.float32(rng.uniform(0, 2 * np.pi))
    profile = (1.0 - strength * (0.5 + 0.5 * np.cos(phase))).astype(np.float32)
    tint = (0.8 + 0.4 * rng.random(3)).astype(np.float32)
    cv2.multiply(image, cv2.merge([profile ** float(t) for t in tint]), dst=image)


MIN_LEGIBLE_TEXT_PX = 12.0  # text height a down-sampled crop keeps: its separators stay a pixel or more


def low_resolution(image: np.ndarray, rng: np.random.Generator, text_px: float, low: float = 0.35) -> np.ndarray:
    """A distant or cheap camera: down-sample, then back up, never so far that text ``text_px``
    high drops below MIN_LEGIBLE_TEXT_PX (below that a comma is gone while the label still has it)."""
    h, w = image.shape[:2]
    factor = rng.uniform(min(max(low, MIN_LEGIBLE_TEXT_PX / max(text_px, 1.0)), 0.8), 0.8)
    small = cv2.resize(image, (max(1, int(w * factor)), max(1, int(h * factor))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


# Auto exposure: the camera meters the picture's highlights (METER_PERCENTILE of its luminance) and
# puts them at a drawn level, within GAIN_LIMITS. A fixed gain instead left a display whose drawing
# gives off little light (small dots with wide gaps, a dim palette) dark in every photo, which no
# phone would take: held-out DMD crops had highlights at a median 92 of 255.
METER_PERCENTILE = 99
GAIN_LIMITS = (0.5, 4.0)


@dataclass(frozen=True)
class Exposure:
    """Exposure, contrast and white balance of one photo; ``gain`` is set by metering a picture."""

    level: float  # where the metered highlights land, 1 = full scale (above it they clip)
    balance: np.ndarray  # white balance per channel (BGR), around 1
    lift: float  # black level, in 8-bit levels
    gamma: float
    gain: float = 1.0

    def metered(self, image: np.ndarray) -> Exposure:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).ravel()
        rank = (grey.size - 1) * METER_PERCENTILE // 100
        highlights = float(np.partition(grey, rank)[rank])  # a tenth of np.percentile's time on a crop
        return replace(self, gain=min(max(self.level / max(highlights, 1e-3), GAIN_LIMITS[0]), GAIN_LIMITS[1]))

    @property
    def clip(self) -> float:
        """The input level (0-1 scale) above which the brightest channel saturates."""
        return (1.0 - self.lift / 255.0) / (self.gain * float(self.balance.max()))


def draw_exposure(rng: np.random.Generator, strength: float = 1.0) -> Exposure:
    balance = rng.uniform(1 - 0.15 * strength, 1 + 0.15 * strength, 3).astype(np.float32)
    level = rng.uniform(0.45, 1.05 + 0.2 * strength)
    return Exposure(float(level), balance, float(rng.uniform(-0.02, 0.08) * 255.0), float(rng.uniform(0.75, 1.3)))


def expose(image: np.ndarray, exposure: Exposure) -> np.ndarray:
    """Apply a (metered) exposure; returns 8-bit BGR."""
    matrix = np.zeros((3, 4), np.float32)
    matrix[(0, 1, 2), (0, 1, 2)] = exposure.balance * np.float32(exposure.gain * 255.0)
    matrix[:, 3] = exposure.lift
    scaled = cv2.transform(image, matrix)
    # Negatives to 0 first: the 8-bit conversion below rounds and saturates, but takes |x|.
    cv2.threshold(scaled, 0.0, 0.0, cv2.THRESH_TOZERO, dst=scaled)
    out = cv2.convertScaleAbs(scaled)
    if abs(exposure.gamma - 1) > 0.03:
        out = cv2.LUT(out, _gamma_table(round(exposure.gamma, 2)))
    return out


@functools.lru_cache(maxsize=128)
def _gamma_table(gamma: float) -> np.ndarray:
    return np.clip(((np.arange(256) / 255.0) ** gamma) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - only on an OpenCV build without JPEG
        raise RuntimeError("OpenCV could not encode JPEG")
    return data.tobytes()
