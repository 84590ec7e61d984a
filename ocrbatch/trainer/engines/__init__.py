"""Training engines. Each turns a fetched dataset into checkpoints and an exported inference model."""

from __future__ import annotations


def get_engine(name: str):
    """Import lazily: the paddleocr engine needs a PaddleOCR checkout that only the image has."""
    if name == "builtin":
        from ocrbatch.trainer.engines.builtin import BuiltinEngine

        return BuiltinEngine()
    if name == "paddleocr":
        from ocrbatch.trainer.engines.paddleocr import PaddleOCREngine

        return PaddleOCREngine()
    from ocrbatch.errors import BadInput

    raise BadInput(f"unknown engine {name!r}")
