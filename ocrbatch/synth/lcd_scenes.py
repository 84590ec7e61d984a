"""LCD screens of modern games: scores and messages in outline fonts (weights, outlines, shadows,
glow, gradient fills) over busy backgrounds."""

from __future__ import annotations

import numpy as np

from ocrbatch.synth import camera, looks, texts, typefaces
from ocrbatch.synth.drawings import Drawing, Recipe, TextBox
from ocrbatch.synth.opencv import cv2


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


def lcd_rec_drawing(recipe: Recipe, rng: np.random.Generator, room: float = 0.0) -> Drawing:
    """A score (or message) in an outline font on an LCD screen: weights, outlines, shadows, glow,
    gradient fills and busy backgrounds, with ``room`` glyph heights of screen more on each side. Its
    maps are text coverage then the painted BGR picture."""
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
    mx, my = int(glyph_px * (1.3 + room)), int(glyph_px * 0.6)
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
        # The outline's tone is always the other one from the fill's: a dark outline around dark text
        # only makes it bolder, and at 2-3 px it closed the holes of 0, 6, 8 and 9 (labels over blobs).
        edge_colour = _colour(rng, rng.uniform(0.0, 0.15) if dark else rng.uniform(0.85, 1.0))
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
