"""Image files: the suffixes every reader takes, and a decode that names the bad file.

`cv2.imread` answers None for a file it cannot decode, and for a JPEG cut short
(a copy interrupted, a camera's card full) a picture whose missing rows are grey,
while libjpeg writes "Premature end of JPEG file" to stderr without saying which
file. Decoding from memory (`cv2.imdecode`) refuses such a file instead, so here a
cut file is an error that names it and says it was cut, never grey rows passed to
the face detector.

Device-side module (the runners read photo folders with it): OpenCV and numpy only.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emoedge.errors import UserInputError

#: the files `emoedge run`, calibration, folder datasets and bench frames take
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)

JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
PNG_START, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"
#: bytes some writers leave after the end marker (padding to a block size)
TRAILING_PADDING = b"\x00\r\n\t "


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def is_truncated(data: bytes | np.ndarray) -> bool:
    """True for a JPEG or PNG whose end marker is missing; other formats are not checked."""
    head = bytes(data[:8])
    tail = bytes(data[-64:]).rstrip(TRAILING_PADDING)
    if head.startswith(JPEG_START):
        return not tail.endswith(JPEG_END)
    if head.startswith(PNG_START):
        return not tail.endswith(PNG_END)
    return False


def read_image(path: Path | str, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode an image file, or raise UserInputError naming the file and, when its
    end marker is missing, saying it was cut short."""
    try:
        with open(path, "rb") as handle:
            data = np.frombuffer(handle.read(), dtype=np.uint8)
    except OSError as exc:  # missing, a folder, no permission
        raise UserInputError(f"{path}: cannot read image file ({exc.strerror})") from exc
    if not data.size:
        raise UserInputError(f"{path}: empty image file")
    image = cv2.imdecode(data, flags)
    if image is None or image.size == 0:
        if is_truncated(data):
            raise UserInputError(f"{path}: truncated image file (it ends before the image does)")
        raise UserInputError(f"{path}: not a decodable image")
    return image


__all__ = ["IMAGE_SUFFIXES", "is_image_file", "is_truncated", "read_image"]
