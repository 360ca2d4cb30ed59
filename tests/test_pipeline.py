"""The on-device pipeline on real builds: rpi (LiteRT), x86 (OpenVINO), jetson (ONNX Runtime CPU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from pipeline_fixtures import WILD_IMAGES, export_builds, write_video

from emoedge.data.preprocess import preprocess
from emoedge.errors import ManifestError
from emoedge.targets.manifest import Build
from emoedge.targets.pipeline import FaceResult, FrameResult, Pipeline, annotate
from emoedge.targets.runtimes import load_runtime
from emoedge.targets.sources import open_source

PHOTOS = sorted(WILD_IMAGES.glob("*.jpg"))
TARGETS = ("rpi", "x86", "jetson")


@pytest.fixture(scope="session")
def builds(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("tensorflow")  # export is host-side
    return export_builds(tmp_path_factory.mktemp("builds"))


@pytest.fixture(scope="module", params=TARGETS)
def pipeline(request, builds) -> Pipeline:
    return Pipeline.from_build(builds[request.param], smoothing="none")


def test_runner_per_target(pipeline):
    expected = {"rpi": "litert", "x86": "openvino", "jetson": "onnxruntime"}[pipeline.build.target]
    assert pipeline.runtime.name == expected
    assert pipeline.detector.name == "blazeface"
    # the detector model came from the build, not from this machine's site-packages
    assert pipeline.detector.model_path.is_relative_to(pipeline.build.root)
    if expected == "onnxruntime":
        assert pipeline.runtime.describe()["providers"][-1] == "CPUExecutionProvider"


def test_labels_equal_the_runtime_on_the_same_crops(pipeline):
    """What `emoedge run` reports is exactly the runtime's answer for the preprocessed crop."""
    runtime = load_runtime(pipeline.build)
    for photo in PHOTOS:
        image = cv2.imread(str(photo), cv2.IMREAD_UNCHANGED)
        result = pipeline(image)
        assert result.error is None and len(result.faces) == 1
        face = result.faces[0]
        direct = runtime.predict(preprocess(image, pipeline.build.preprocess, face.box)[None])[0]
        assert face.label == pipeline.labels[int(np.argmax(direct))]
        got = np.array([face.probabilities[name] for name in pipeline.labels])
        np.testing.assert_allclose(got, direct, atol=1e-5)
        assert face.score == pytest.approx(float(direct.max()), abs=1e-5)
        assert set(result.timings) == {"detect", "classify", "track", "total"}
        json.dumps(result.to_dict())  # JSON-ready


def test_flip_tta_averages_the_face_and_its_mirror(builds):
    tta = Pipeline.from_build(builds["rpi"], smoothing="none", flip_tta=True)
    assert tta.describe()["flip_tta"] is True
    runtime = load_runtime(tta.build)
    image = cv2.imread(str(PHOTOS[0]))
    face = tta(image).faces[0]
    crop = preprocess(image, tta.build.preprocess, face.box)
    expected = (runtime.predict(crop[None])[0] + runtime.predict(crop[None, :, ::-1])[0]) / 2
    got = np.array([face.probabilities[name] for name in tta.labels])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    plain = runtime.predict(crop[None])[0]
    assert not np.allclose(got, plain, atol=1e-4)  # the mirror really went in


def test_frame_layouts_give_the_same_answer(pipeline):
    bgr = cv2.imread(str(PHOTOS[0]), cv2.IMREAD_COLOR)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)
    results = [pipeline(frame).faces[0] for frame in (bgr, gray, bgra, gray[:, :, None])]
    assert len({(f.box, f.label) for f in results}) == 1


def test_4k_frame(pipeline):
    frame = np.full((2160, 3840, 3), 100, np.uint8)
    frame[400:1800, 1200:2600] = cv2.resize(cv2.imread(str(PHOTOS[0])), (1400, 1400))
    result = pipeline(frame)
    assert len(result.faces) == 1
    x, y, w, _h = result.faces[0].box
    assert 1200 <= x < 1800 and 400 <= y < 1000 and w > 700


def test_no_face_and_bad_frames_give_clean_results(pipeline):
    blank = pipeline(np.zeros((480, 640, 3), np.uint8))
    assert blank.faces == [] and blank.error is None
    for bad in (np.zeros((0, 0, 3), np.uint8), np.zeros((4, 4, 4, 4), np.uint8), None):
        result = pipeline(bad)
        assert result.faces == [] and "bad frame" in result.error
        assert "error" in result.to_dict()


def test_crowd_is_capped_and_largest_first(builds):
    photos = [cv2.imread(str(p)) for p in PHOTOS]
    tiles = [
        cv2.resize(photos[i % len(photos)], (200, 200) if i else (260, 260)) for i in range(30)
    ]
    frame = np.zeros((1300, 1500, 3), np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, 6)
        frame[r * 260 : r * 260 + tile.shape[0], c * 250 : c * 250 + tile.shape[1]] = tile
    pipeline = Pipeline.from_build(builds["rpi"], detector="haar", max_faces=16)
    result = pipeline(frame)
    assert len(result.faces) == 16
    assert result.skipped_faces >= 10
    areas = [f.box[2] * f.box[3] for f in result.faces]
    assert areas == sorted(areas, reverse=True)
    assert result.faces[0].box[0] < 60 and result.faces[0].box[1] < 60  # the big first tile
    assert len({f.track_id for f in result.faces}) == 16


def test_video_tracks_and_smoothing(builds, tmp_path):
    video = write_video(tmp_path / "wild.mp4", hold=3)
    pipeline = Pipeline.from_build(builds["x86"], smoothing="ema")
    with open_source(video) as source:
        results = [pipeline(f.image, f.timestamp, frame_index=f.index) for f in source]
    assert [r.frame_index for r in results] == list(range(3 * len(PHOTOS)))
    assert all(len(r.faces) == 1 for r in results)
    for start in range(0, len(results), 3):  # one photo held for 3 frames: one track
        assert len({r.faces[0].track_id for r in results[start : start + 3]}) == 1
    pipeline.reset()
    assert pipeline(cv2.imread(str(PHOTOS[0]))).faces[0].track_id == 1


def test_annotate_draws_on_a_copy(pipeline):
    image = cv2.imread(str(PHOTOS[0]), cv2.IMREAD_GRAYSCALE)
    out = annotate(image, pipeline(image))
    assert out.shape == (*image.shape, 3)
    assert not np.array_equal(out, cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))


@pytest.mark.parametrize(
    ("height", "width", "box"),
    [(82, 76, (0, 0, 76, 82)), (350, 350, (266, 30, 84, 300))],
    ids=["box-fills-a-small-photo", "box-at-the-right-edge"],
)
def test_the_whole_label_is_drawn_inside_the_frame(height, width, box):
    """The label's letters have its coloured strip on every side, all within the frame:
    a box filling an 82x76 wild photo, or touching the right edge, cut it ("#2 happines")."""
    face = FaceResult(2, box, "happiness", 0.87, {"neutral": 0.13, "happiness": 0.87}, 0.9)
    drawn = annotate(np.full((height, width, 3), 255, np.uint8), FrameResult(0, 0.0, [face], {}))
    x, y, _w, h = box
    strip = np.all(drawn == drawn[y + h // 2, x], axis=2)  # the box's colour, as its left side
    rows, cols = np.nonzero(drawn.max(axis=2) < 70)  # the black letters
    assert rows.size > 30 and rows.max() - rows.min() >= 4  # still legible, not shrunk away
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    assert left > 0 and top > 0 and right < width - 1 and bottom < height - 1
    assert strip[top : bottom + 1, left - 1].any() and strip[top : bottom + 1, right + 1].any()
    assert strip[top - 1, left : right + 1].any() and strip[bottom + 1, left : right + 1].any()


def test_tampered_build_is_refused(builds, tmp_path):
    copy = Path(shutil.copytree(builds["rpi"], tmp_path / "rpi"))
    model = Build.load(copy).path("model")
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(ManifestError, match="checksum"):
        Pipeline.from_build(copy)


def test_build_without_detector_file_falls_back(builds, tmp_path):
    copy = Path(shutil.copytree(builds["jetson"], tmp_path / "jetson"))
    manifest = json.loads((copy / "manifest.json").read_text())
    shutil.rmtree(copy / "detector")
    del manifest["files"]["detector"]
    manifest["detector"]["file"] = None
    (copy / "manifest.json").write_text(json.dumps(manifest))
    pipeline = Pipeline.from_build(copy, smoothing="none")
    assert not pipeline.detector.model_path.is_relative_to(copy)
    assert len(pipeline(cv2.imread(str(PHOTOS[0]))).faces) == 1
