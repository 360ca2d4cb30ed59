"""Image decoding shared by every reader: end-marker checks on real files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from emoedge.data.images import is_truncated, read_image
from emoedge.errors import UserInputError

PHOTOS = sorted((Path(__file__).parent / "fixtures" / "wild" / "images").glob("*.jpg"))


def test_fixture_photos_are_whole():
    assert PHOTOS and not any(is_truncated(p.read_bytes()) for p in PHOTOS)


def test_cut_jpeg_and_png_are_truncated(tmp_path):
    jpeg = PHOTOS[0].read_bytes()
    assert is_truncated(jpeg[:-2])
    assert not is_truncated(jpeg + b"\x00" * 16)  # padding after the end marker
    ok, png = cv2.imencode(".png", cv2.imread(str(PHOTOS[0])))
    assert ok and not is_truncated(png.tobytes())
    assert is_truncated(png.tobytes()[:-12])
    assert not is_truncated(cv2.imencode(".bmp", np.zeros((4, 4), np.uint8))[1].tobytes())


def test_read_image_names_the_file(tmp_path):
    with pytest.raises(UserInputError, match=r"nothing\.jpg: cannot read image file"):
        read_image(tmp_path / "nothing.jpg")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(UserInputError, match=r"empty\.png: empty image file"):
        read_image(tmp_path / "empty.png")
    cut = tmp_path / "cut.png"
    png = cv2.imencode(".png", cv2.imread(str(PHOTOS[0])))[1]
    cut.write_bytes(png.tobytes()[:-12])  # IEND gone
    with pytest.raises(UserInputError, match=r"cut\.png: truncated image file"):
        read_image(cut)
    noise = tmp_path / "noise.jpg"
    noise.write_bytes(b"\xff\xd8 not a jpeg \xff\xd9")
    with pytest.raises(UserInputError, match=r"noise\.jpg: not a decodable image"):
        read_image(noise)
    assert read_image(PHOTOS[0], cv2.IMREAD_COLOR).shape == (350, 350, 3)
