"""The fast PNG/JPEG checks agree with Pillow on good images and catch what is broken."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from ocrbatch.datasets.image_check import inspect_image


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


VARIANTS = [
    ("PNG", "RGB", {}),
    ("PNG", "RGBA", {}),
    ("PNG", "L", {}),
    ("PNG", "P", {}),
    ("PNG", "1", {}),
    ("JPEG", "RGB", {"quality": 90}),
    ("JPEG", "L", {}),
    ("JPEG", "RGB", {"progressive": True}),
    ("JPEG", "RGB", {"exif": b"Exif\x00\x00" + b"\x00" * 64}),
    ("JPEG", "CMYK", {}),
]


@pytest.mark.parametrize("fmt, mode, options", VARIANTS)
@pytest.mark.parametrize("size", [(1, 1), (37, 5), (300, 120)])
def test_agrees_with_pillow(fmt, mode, options, size):
    data = encode(noise(*size).convert(mode), fmt, **options)
    with Image.open(io.BytesIO(data)) as image:
        expected = (image.width, image.height, image.format)
    assert inspect_image(data) == expected


def test_other_formats_go_through_pillow():
    assert inspect_image(encode(noise(20, 10), "BMP")) == (20, 10, "BMP")
    assert inspect_image(encode(noise(20, 10), "WEBP")) == (20, 10, "WEBP")
    assert inspect_image(b"GIF89a garbage").startswith("does not decode")
    assert inspect_image(b"plain text").startswith("does not decode")


def test_broken_png():
    good = encode(noise(40, 30), "PNG")
    assert "truncated PNG" in inspect_image(good[:-12])  # IEND cut off
    assert "truncated PNG" in inspect_image(good[: len(good) // 2])
    flipped = bytearray(good)
    flipped[60] ^= 0x01  # inside the IDAT data
    assert "bad CRC in its IDAT chunk" in inspect_image(bytes(flipped))
    no_ihdr = good[:8] + struct.pack(">I4s", 0, b"IEND") + struct.pack(">I", 0xAE426082)
    assert "does not start with IHDR" in inspect_image(no_ihdr)


def test_broken_jpeg():
    good = encode(noise(40, 30), "JPEG")
    assert "no end-of-image marker" in inspect_image(good[:-2])
    assert "truncated JPEG" in inspect_image(good[:12])
    assert "bad marker" in inspect_image(good[:2] + b"\x00" + good[3:])
    assert "no frame header" in inspect_image(b"\xff\xd8\xff\xd9")


def test_zero_sized_png():
    good = bytearray(encode(noise(4, 4), "PNG"))
    struct.pack_into(">I", good, 16, 0)  # width 0 in IHDR, then fix the CRC
    import zlib

    struct.pack_into(">I", good, 29, zlib.crc32(bytes(good[12:29])))
    assert inspect_image(bytes(good)) == "has no pixels (0x4)"
