"""The one place that imports OpenCV for the generator, so a missing install is one clear message.

OpenCV (``cv2``) arrives with the ``train`` extra (paddleocr depends on it); the light CLI install
does not have it, and ``ocrbatch synth`` is the only command that needs it.
"""

from __future__ import annotations

from ocrbatch.errors import OcrbatchError


def load_cv2():
    try:
        import cv2
    except ImportError as exc:
        raise OcrbatchError(
            "ocrbatch synth needs OpenCV: pip install opencv-python-headless "
            f"(or install ocrbatch[train]); import failed: {exc}"
        ) from None
    return cv2


cv2 = load_cv2()
