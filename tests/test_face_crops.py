"""Face crops as the classifier sees them: framed as FER+, padded at the frame's
edge, levelled by the eyes; and faces too small to read get no label."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from emoedge.data.preprocess import (
    FERPLUS_MARGIN,
    FERPLUS_SHIFT,
    PreprocessSpec,
    crop_face,
    eye_roll,
    preprocess,
)
from emoedge.errors import UserInputError
from emoedge.targets.detectors import make_detector


@pytest.fixture(scope="module")
def builds_rpi(tmp_path_factory) -> Path:
    pytest.importorskip("tensorflow")  # export is host-side
    from pipeline_fixtures import export_builds

    return export_builds(tmp_path_factory.mktemp("builds"), ("rpi",))["rpi"]


WILD = Path(__file__).parent / "fixtures" / "wild" / "images"
PHOTOS = sorted(WILD.glob("*.jpg"))


def _photo(index: int = 0, flags: int = cv2.IMREAD_GRAYSCALE) -> np.ndarray:
    return cv2.imread(str(PHOTOS[index]), flags)


def test_crop_inside_the_frame_is_the_framed_square():
    image = np.arange(200 * 200, dtype=np.uint32).reshape(200, 200) % 251
    image = image.astype(np.uint8)
    crop = crop_face(image, (60, 70, 50, 50), margin=0.1, shift=0.2)
    # side 50 * 1.2 = 60; centre (85, 95) moved up by 0.2 * 50 = 10 px -> (85, 85)
    assert crop.shape == (60, 60)
    assert np.array_equal(crop, image[55:115, 55:115])


def test_face_at_the_border_is_padded_not_stretched():
    """A face box reaching past the left and top edges: the crop stays square, the
    pixels inside the frame are the frame's own (not resampled), and the rest
    repeats the edge instead of stretching the clipped part over it."""
    photo = _photo()
    face = make_detector("blazeface").detect(photo)[0]
    x, y, w, h = face.box
    cut = photo[y + h // 4 :, x + w // 3 :]  # the face now runs off the top-left corner
    found = make_detector("blazeface").detect(cut)
    assert found, "the detector still finds the cut face"
    box = found[0].box
    assert box[0] == 0 and box[1] == 0
    crop = crop_face(cut, box, FERPLUS_MARGIN, FERPLUS_SHIFT)
    side = round((box[2] + box[3]) / 2 * (1 + 2 * FERPLUS_MARGIN))
    assert crop.shape == (side, side)  # aspect ratio kept
    # where the crop's square starts, in the cut frame
    cx = box[0] + box[2] / 2
    cy = box[1] + box[3] / 2 - FERPLUS_SHIFT * (box[2] + box[3]) / 2
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    assert x0 < 0 and y0 < 0
    inside = crop[-y0 : -y0 + cut.shape[0], -x0 : -x0 + cut.shape[1]]
    assert np.array_equal(inside, cut[: inside.shape[0], : inside.shape[1]])
    # the padding repeats the frame's first row and column
    assert np.array_equal(crop[0, -x0 : -x0 + inside.shape[1]], cut[0, : inside.shape[1]])
    assert np.array_equal(crop[-y0 : -y0 + inside.shape[0], 0], cut[: inside.shape[0], 0])


def test_the_model_input_of_a_border_face_is_the_padded_crop_resized():
    photo = _photo(5)  # Ellen_DeGeneres: the face touches the left edge
    face = make_detector("blazeface").detect(photo)[0]
    assert face.box[0] == 0
    spec = PreprocessSpec(height=64, width=64)
    crop = crop_face(photo, face.box, spec.margin, spec.shift)
    assert crop.shape[0] == crop.shape[1]
    np.testing.assert_allclose(preprocess(photo, spec, face.box), preprocess(crop, spec))


def test_box_outside_the_image_is_a_clear_error():
    with pytest.raises(UserInputError, match="outside"):
        crop_face(np.zeros((50, 50), np.uint8), (80, 80, 10, 10))


def _rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """The photo turned `degrees` counter-clockwise on screen about its centre."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("index", range(3))
def test_a_face_rotated_20_degrees_comes_out_level(index):
    detector = make_detector("blazeface")
    photo = _photo(index)
    upright = eye_roll(detector.detect(photo)[0].eyes)
    tilted = _rotated(photo, 20.0)
    face = detector.detect(tilted)[0]
    roll = eye_roll(face.eyes)
    assert roll == pytest.approx(upright - 20.0, abs=5.0)  # the eye line is tilted
    level = crop_face(tilted, face.box, roll=roll)
    unlevelled = crop_face(tilted, face.box)
    # the detector, run again on each crop (with a border to see the whole face)
    again = [
        detector.detect(cv2.copyMakeBorder(c, 40, 40, 40, 40, cv2.BORDER_REPLICATE))[0]
        for c in (level, unlevelled)
    ]
    assert abs(eye_roll(again[0].eyes)) < 5.0
    assert abs(eye_roll(again[1].eyes)) > 12.0


def test_eye_roll_without_eyes_or_past_the_limit_is_zero():
    assert eye_roll(None) == 0.0
    assert eye_roll(((10.0, 10.0), (20.0, 20.0))) == pytest.approx(45.0)
    assert eye_roll(((10.0, 10.0), (12.0, 30.0))) == 0.0  # 84 degrees: not an eye line
    # either order of the two eyes gives the same tilt
    assert eye_roll(((30.0, 12.0), (10.0, 10.0))) == eye_roll(((10.0, 10.0), (30.0, 12.0)))


def test_old_manifests_keep_their_framing():
    assert PreprocessSpec.from_dict({"height": 64, "width": 64, "margin": 0.1}).shift == 0.0
    spec = PreprocessSpec()
    assert (spec.margin, spec.shift) == (FERPLUS_MARGIN, FERPLUS_SHIFT)
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec


def test_save_crops_style_crop_equals_what_the_pipeline_classified(builds_rpi):
    from emoedge.targets.pipeline import Pipeline
    from emoedge.targets.runtimes import load_runtime

    pipeline = Pipeline.from_build(builds_rpi, smoothing="none", align=True)
    runtime = load_runtime(pipeline.build)
    tilted = _rotated(_photo(1, cv2.IMREAD_COLOR), 20.0)
    face = pipeline(tilted).faces[0]
    assert face.roll == pytest.approx(eye_roll(pipeline.detector.detect(tilted)[0].eyes))
    crop = pipeline.crop(tilted, face)
    assert crop.ndim == 2 and crop.shape[0] == crop.shape[1]
    direct = runtime.predict(preprocess(crop, pipeline.spec)[None])[0]
    got = np.array([face.probabilities[name] for name in pipeline.labels])
    np.testing.assert_allclose(got, direct, atol=1e-5)


def test_a_face_below_the_minimum_size_gets_no_label(builds_rpi):
    from emoedge.targets.pipeline import MIN_FACE, Pipeline

    pipeline = Pipeline.from_build(builds_rpi, smoothing="none")
    side = MIN_FACE  # the photo at this width: its face box is narrower
    small = cv2.resize(_photo(0, cv2.IMREAD_COLOR), (side, side), interpolation=cv2.INTER_AREA)
    result = pipeline(small)
    assert result.faces == [] and len(result.unread) == 1
    assert min(result.unread[0].box[2:]) < MIN_FACE
    record = json.loads(json.dumps(result.to_dict()))
    assert record["faces"] == []
    assert record["unread"][0]["label"] is None
    assert f"smaller than {MIN_FACE} px" in record["unread"][0]["reason"]
    # the same photo at full size is classified, and a lower minimum reads the small one
    assert len(pipeline(_photo(0, cv2.IMREAD_COLOR)).faces) == 1
    low = Pipeline.from_build(builds_rpi, smoothing="none", min_face=8)
    assert len(low(small).faces) == 1 and low(small).unread == []
    assert pipeline.describe()["min_face"] == MIN_FACE


def _photo_folder(root: Path) -> Path:
    for index, emotion in ((0, "happiness"), (1, "happiness"), (2, "sadness")):
        (root / emotion).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / emotion / f"{index}.png"), _photo(index, cv2.IMREAD_COLOR))
    cv2.imwrite(str(root / "sadness" / "blank.png"), np.full((200, 200, 3), 90, np.uint8))
    return root


def test_fine_tuning_from_photos_uses_the_pipelines_crop(tmp_path):
    """`emoedge train --format photos`: each photo's face, cut by the same detector
    and crop function as `emoedge run`; a photo with no face is left out."""
    from emoedge.data.folders import load_folders

    root = _photo_folder(tmp_path / "photos")
    faces = load_folders(root, photos=True)
    assert faces.names == ["happiness/0.png", "happiness/1.png", "sadness/2.png"]
    detector = make_detector("blazeface")
    for crop, index in zip(faces.images, (0, 1, 2), strict=True):
        photo = _photo(index, cv2.IMREAD_COLOR)
        box = max(detector.detect(photo), key=lambda d: d.box[2] * d.box[3]).box
        assert np.array_equal(crop, crop_face(photo, box))
    assert len(load_folders(root).images) == 4  # without photos=True: the images as crops


def test_calibration_from_photos_uses_the_pipelines_crop(tmp_path):
    from emoedge.quantization.base import CalibrationSet

    root = _photo_folder(tmp_path / "photos")
    spec = PreprocessSpec()
    calibration = CalibrationSet.from_folder(root, spec, photos=True)
    assert calibration.inputs.shape == (3, *spec.input_shape)
    assert calibration.source.startswith("photos:")
    detector = make_detector("blazeface")
    photo = _photo(0, cv2.IMREAD_COLOR)
    box = detector.detect(photo)[0].box
    np.testing.assert_allclose(calibration.inputs[0], preprocess(photo, spec, box))


def test_run_prints_and_writes_a_small_face_as_unread(builds_rpi, tmp_path):
    from typer.testing import CliRunner

    from emoedge.cli import app
    from emoedge.targets.pipeline import MIN_FACE

    photos = tmp_path / "photos"
    photos.mkdir()
    small = cv2.resize(_photo(0, cv2.IMREAD_COLOR), (MIN_FACE, MIN_FACE), cv2.INTER_AREA)
    cv2.imwrite(str(photos / "small.png"), small)
    args = ["run", str(builds_rpi), "--source", str(photos), "--print-faces"]
    result = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "faces.jsonl")])
    assert result.exit_code == 0, result.output
    assert "unread at" in result.output and f"smaller than {MIN_FACE} px" in result.output
    record = json.loads((tmp_path / "faces.jsonl").read_text().splitlines()[0])
    assert record["faces"] == [] and record["unread"][0]["label"] is None
    lower = CliRunner().invoke(app, [*args, "--min-face", "8"])
    assert lower.exit_code == 0 and "unread" not in lower.output
