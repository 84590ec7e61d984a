"""Cutting a text box out of an image the way PaddleOCR does, so a crop we cut trains like one it cut.

PaddleOCR (``get_rotate_crop_image``, and PPOCRLabel's "Export Recognition Result") maps the box's four
corners, clockwise from top-left, onto an upright rectangle as wide as its longer top/bottom edge and
as tall as its longer left/right edge, with a perspective warp; a crop at least 1.5 times taller than
wide is turned a quarter counter-clockwise (vertical text read sideways). A polygon of more than four
points is first replaced by its minimum-area rectangle, as PPOCRLabel does. Pillow and NumPy only
(OpenCV is a training extra): the same geometry, bicubic sampling.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

TALL_RATIO = 1.5


def crop_box(image: Image.Image, points: Sequence[Sequence[float]]) -> Image.Image:
    """The upright crop of the box ``points`` (ValueError when it has no area)."""
    quad = np.asarray(points, dtype=np.float64)
    if len(quad) > 4:
        quad = min_area_rect(quad)
    top_left, top_right, bottom_right, bottom_left = quad
    width = int(max(np.linalg.norm(top_left - top_right), np.linalg.norm(bottom_right - bottom_left)))
    height = int(max(np.linalg.norm(top_left - bottom_left), np.linalg.norm(top_right - bottom_right)))
    if width < 1 or height < 1:
        raise ValueError(f"box is {width}x{height} pixels: nothing to crop")
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    crop = image.transform(
        (width, height), Image.Transform.PERSPECTIVE, _perspective_coefficients(target, quad), Image.Resampling.BICUBIC
    )
    if height / width >= TALL_RATIO:
        crop = crop.transpose(Image.Transpose.ROTATE_90)
    return crop


def _perspective_coefficients(target: np.ndarray, source: np.ndarray) -> tuple[float, ...]:
    """Pillow's 8 coefficients mapping each ``target`` (output) corner onto its ``source`` corner."""
    rows, values = [], []
    for (x, y), (u, v) in zip(target, source):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values.extend((u, v))
    try:
        return tuple(np.linalg.solve(np.array(rows), np.array(values)))
    except np.linalg.LinAlgError:
        raise ValueError("box corners are collinear: nothing to crop") from None


def min_area_rect(points: np.ndarray) -> np.ndarray:
    """The smallest rotated rectangle around ``points``: corners clockwise from top-left (image axes,
    y down), PaddleOCR's order for a crop."""
    hull = _convex_hull(points)
    best = None
    for i in range(len(hull)):
        edge = hull[(i + 1) % len(hull)] - hull[i]
        length = np.hypot(*edge)
        if length == 0:
            continue
        axis = edge / length
        normal = np.array([-axis[1], axis[0]])
        along, across = hull @ axis, hull @ normal
        area = (along.max() - along.min()) * (across.max() - across.min())
        if best is None or area < best[0]:
            corners = [a * axis + b * normal for a, b in (
                (along.min(), across.min()), (along.max(), across.min()),
                (along.max(), across.max()), (along.min(), across.max()),
            )]
            best = (area, np.array(corners))
    if best is None:
        raise ValueError("polygon has no area: nothing to crop")
    return _clockwise_from_top_left(best[1])


def _clockwise_from_top_left(corners: np.ndarray) -> np.ndarray:
    by_x = corners[np.argsort(corners[:, 0], kind="stable")]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1], kind="stable")]
    top_right, bottom_right = right[np.argsort(right[:, 1], kind="stable")]
    return np.array([top_left, top_right, bottom_right, bottom_left])


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain."""
    ordered = sorted({(float(x), float(y)) for x, y in points})
    if len(ordered) < 3:
        return np.array(ordered, dtype=np.float64)

    def half(sequence):
        chain: list[tuple[float, float]] = []
        for p in sequence:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return np.array(half(ordered) + half(reversed(ordered)), dtype=np.float64)


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
