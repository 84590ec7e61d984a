"""What every display style draws before the camera sees it: the recipe it follows, the text boxes
it drew, its float maps (a rec ``Drawing``) or a whole display ``Panel`` for det frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ocrbatch.synth import camera, looks


@dataclass(frozen=True)
class Recipe:
    """What to draw: a style, whether its texts are scores only (numeric charset), and from which
    renderer set (train, heldout or all) fonts, shapes and camera effects come."""

    style: str
    numeric_only: bool = False
    renderers: str = "all"

    def renderer_set(self, rng: np.random.Generator) -> str:
        """``train`` or ``heldout`` for one drawing decision (``all``: either, evenly)."""
        if self.renderers != "all":
            return self.renderers
        return "heldout" if rng.random() < 0.5 else "train"


@dataclass(frozen=True)
class TextBox:
    text: str
    quad: np.ndarray  # 4x2, clockwise from top-left


@dataclass
class Drawing:
    """A style's output before colouring: maps (H, W, k) in drawing pixels and its text boxes."""

    maps: np.ndarray  # channels: lit, ghost, window[, panel]
    boxes: list[TextBox]
    glyph_px: float
    look: looks.Look | None  # None: maps are (text coverage, B, G, R), already painted


def fill_rect(mask: np.ndarray, rect, value: float = 1.0) -> None:
    x0, y0, x1, y1 = (int(round(v)) for v in rect)
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = value


class Panel:
    """A display panel in drawing space: maps lit, ghost, window, panel and the texts placed on it."""

    def __init__(self, width: int, height: int):
        self.maps = np.zeros((height, width, 4), np.float32)
        self.maps[:, :, 3] = 1.0
        self.boxes: list[TextBox] = []

    def paste(self, lit: np.ndarray, ghost: np.ndarray, x: int, y: int) -> None:
        h, w = lit.shape
        region = self.maps[y : y + h, x : x + w]
        np.maximum(region[:, :, 0], lit[: region.shape[0], : region.shape[1]], out=region[:, :, 0])
        np.maximum(region[:, :, 1], ghost[: region.shape[0], : region.shape[1]], out=region[:, :, 1])

    def window(self, rect) -> None:
        fill_rect(self.maps[:, :, 2], rect)

    def add_text(self, text: str, box, x: int = 0, y: int = 0) -> None:
        if text:
            x0, y0, x1, y1 = box
            self.boxes.append(TextBox(text, camera.quad_from_box(x0 + x, y0 + y, x1 + x, y1 + y)))
