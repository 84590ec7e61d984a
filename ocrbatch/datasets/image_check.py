"""Is this a usable image, and how big is it? Answered from the file's bytes, without decoding pixels.

PNG and JPEG (nearly every OCR dataset) are checked here directly, because Pillow's header parsing is
pure Python and was two thirds of the validation time. The checks match what ``Image.open`` +
``Image.verify()`` do for these formats: PNG, every chunk's CRC up to ``IEND`` and the size from
``IHDR``; JPEG, the marker segments up to the frame header (its size), plus an end-of-image marker,
which catches the common truncated download that Pillow's JPEG ``verify`` lets through. Every other
format goes through Pillow itself.
"""

from __future__ import annotations

import io
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_START = b"\xff\xd8"
JPEG_END = b"\xff\xd9"
# Start-of-frame markers carry the image size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
JPEG_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD8)) | {0x01, 0xD8}


def inspect_image(data: bytes) -> tuple[int, int, str] | str:
    """``(width, height, format)``, or why the bytes are not a usable image (a phrase that follows
    "image <path> ...")."""
    if data.startswith(PNG_SIGNATURE):
        found = _png(data)
    elif data.startswith(JPEG_START):
        found = _jpeg(data)
    else:
        found = _pillow(data)
    if isinstance(found, tuple) and (found[0] <= 0 or found[1] <= 0):
        return f"has no pixels ({found[0]}x{found[1]})"
    return found


def _png(data: bytes) -> tuple[int, int, str] | str:
    view = memoryview(data)
    pos, end_of_data = len(PNG_SIGNATURE), len(data)
    size = None
    while True:
        if pos + 12 > end_of_data:
            return "is a truncated PNG (no IEND chunk)"
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > end_of_data:
            return "is a truncated PNG"
        if zlib.crc32(view[pos + 4 : end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            return f"is a corrupt PNG (bad CRC in its {kind.decode('latin-1')} chunk)"
        if size is None:
            if kind != b"IHDR" or length < 8:
                return "is a corrupt PNG (does not start with IHDR)"
            size = struct.unpack_from(">II", data, pos + 8)
        if kind == b"IEND":
            return size[0], size[1], "PNG"
        pos = end


def _jpeg(data: bytes) -> tuple[int, int, str] | str:
    pos, end = 2, len(data)
    while pos < end:
        if data[pos] != 0xFF:
            return "is a corrupt JPEG (bad marker)"
        while pos < end and data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker in JPEG_STANDALONE_MARKERS:
            continue
        if marker == 0xD9:
            return "is a corrupt JPEG (no frame header)"
        if pos + 2 > end:
            break
        if marker in JPEG_FRAME_MARKERS:
            if pos + 7 > end:
                break
            height, width = struct.unpack_from(">HH", data, pos + 3)
            if data.rfind(JPEG_END) == -1:
                return "is a truncated JPEG (no end-of-image marker)"
            return width, height, "JPEG"
        pos += struct.unpack_from(">H", data, pos)[0]
    return "is a truncated JPEG"


def _pillow(data: bytes) -> tuple[int, int, str] | str:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or "unknown"
            width, height = image.size
            image.verify()
    except Exception as err:  # noqa: BLE001 - Pillow raises many types (SyntaxError, OSError, ...) for bad files
        return f"does not decode: {str(err) or type(err).__name__}"
    return width, height, fmt
