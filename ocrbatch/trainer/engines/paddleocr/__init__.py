"""Engine ``paddleocr``: PaddleOCR's own training tools, driven through ``contract``."""

from ocrbatch.trainer.engines.paddleocr.engine import PaddleOCREngine

__all__ = ["PaddleOCREngine"]
