"""`emoedge run` end to end through the CLI: JSON lines, annotated video, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from pipeline_fixtures import WILD_IMAGES, distant_faces_frame, export_builds, write_video
from typer.testing import CliRunner

from emoedge.cli import app
from emoedge.data.preprocess import PreprocessSpec, preprocess
from emoedge.targets.manifest import Build
from emoedge.targets.runtimes import load_runtime

PHOTOS = sorted(WILD_IMAGES.glob("*.jpg"))
PHOTOS_BGR = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in PHOTOS]
HOLD = 2


@pytest.fixture(scope="session")
def builds(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("tensorflow")  # export is host-side
    return export_builds(tmp_path_factory.mktemp("builds"))


@pytest.fixture(scope="session")
def rpi_build(tmp_path_factory) -> Path:
    """The rpi build alone, for tests no other runtime changes (export is host-side)."""
    pytest.importorskip("tensorflow")
    return export_builds(tmp_path_factory.mktemp("rpi-build"), ("rpi",))["rpi"]


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "wild.mp4", hold=HOLD)


@pytest.fixture(scope="module")
def unrelated_photos(tmp_path_factory) -> Path:
    """Three photos of other sizes, in name order: two people side by side (700x350),
    a small face (76x82, as small as the wild sample's), and the right-hand person
    of the first photo alone, at the same place."""
    folder = tmp_path_factory.mktemp("unrelated")
    left, right = (cv2.imread(str(p), cv2.IMREAD_COLOR) for p in PHOTOS[:2])
    cv2.imwrite(str(folder / "a_pair.png"), np.hstack([left, right]))
    cv2.imwrite(str(folder / "b_small.png"), cv2.resize(PHOTOS_BGR[2], (76, 82)))
    cv2.imwrite(str(folder / "c_right.png"), np.hstack([np.full_like(left, 128), right]))
    return folder


def json_lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def content_size(frame: np.ndarray) -> tuple[int, int]:
    """Width and height of what is not the black letterbox around it."""
    rows = np.flatnonzero(frame.max(axis=2).mean(axis=1) > 12)
    cols = np.flatnonzero(frame.max(axis=2).mean(axis=0) > 12)
    return int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def run(*args: str):
    return CliRunner().invoke(app, ["run", *map(str, args)])


@pytest.mark.parametrize("target", ["rpi", "x86"])
def test_video_to_jsonl_and_mp4_with_labels_of_the_runtime(builds, video, tmp_path, target):
    jsonl, mp4, crops = tmp_path / "out.jsonl", tmp_path / "annotated.mp4", tmp_path / "crops"
    result = run(
        builds[target],
        "--source",
        video,
        "--json",
        jsonl,
        "--output",
        mp4,
        "--smoothing",
        "none",
        "--save-crops",
        crops,
    )
    assert result.exit_code == 0, result.output
    assert f"frames: {HOLD * len(PHOTOS)}" in result.stdout
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["frame_index"] for line in lines] == list(range(HOLD * len(PHOTOS)))
    first = lines[0]
    assert set(first) >= {"frame_index", "timestamp", "faces", "timings"}
    assert set(first["timings"]) == {"capture", "detect", "classify", "track", "total"}
    face = first["faces"][0]
    assert set(face) == {"track_id", "box", "label", "score", "probabilities", "detector_score"}
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=0.02)

    # The labels equal what the build's runtime says for the same crops.
    build = Build.load(builds[target])
    runtime = load_runtime(build)
    spec = build.preprocess
    whole = PreprocessSpec(spec.height, spec.width, spec.channels, spec.scale, margin=0.0)
    for line in lines:
        assert len(line["faces"]) == 1
        face = line["faces"][0]
        crop = cv2.imread(
            str(crops / f"{line['frame_index']:06d}_{face['track_id']}.png"), cv2.IMREAD_UNCHANGED
        )
        probabilities = runtime.predict(preprocess(crop, whole)[None])[0]
        assert face["label"] == build.labels[int(np.argmax(probabilities))]
        assert face["score"] == pytest.approx(float(probabilities.max()), abs=1e-4)

    capture = cv2.VideoCapture(str(mp4))
    assert capture.isOpened()
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == HOLD * len(PHOTOS)
    ok, frame = capture.read()
    assert ok and frame.shape == (350, 350, 3)
    capture.release()


def test_image_folder_to_stdout_without_smoothing(builds):
    result = run(builds["jetson"], "--source", WILD_IMAGES, "--json", "-")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(PHOTOS)
    assert all(len(line["faces"]) == 1 for line in lines)


def test_each_json_line_names_its_photo(rpi_build, tmp_path):
    """Matched by name, not by counting lines: a photo that does not decode is
    skipped, and every later line would name the wrong photo."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in PHOTOS[:3]:
        shutil.copy(photo, folder / photo.name)
    (folder / f"{PHOTOS[0].stem}_broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    lines = json_lines(run(rpi_build, "--source", folder, "--json", "-"))
    assert [line["file"] for line in lines] == [p.name for p in PHOTOS[:3]]
    assert all(set(line) >= {"frame_index", "timestamp", "faces", "timings"} for line in lines)
    assert all(len(line["faces"]) == 1 for line in lines)
    (one,) = json_lines(run(rpi_build, "--source", PHOTOS[3], "--json", "-"))
    assert one["file"] == PHOTOS[3].name


def test_track_ids_start_fresh_on_each_photo(rpi_build, unrelated_photos):
    """Unrelated photos share no track: ids number each photo's faces, and the
    person alone in the last photo is not taken for one of the first photo's pair."""
    lines = json_lines(run(rpi_build, "--source", unrelated_photos, "--json", "-"))
    assert [len(line["faces"]) for line in lines] == [2, 1, 1]
    for line in lines:
        assert sorted(face["track_id"] for face in line["faces"]) == [1, 2][: len(line["faces"])]

    # asking for smoothing says the folder is a sequence of frames: tracked like a video
    lines = json_lines(
        run(rpi_build, "--source", unrelated_photos, "--json", "-", "--smoothing", "ema")
    )
    pair_right = max(lines[0]["faces"], key=lambda face: face["box"][0])
    assert lines[2]["faces"][0]["track_id"] == pair_right["track_id"]


def test_output_letterboxes_photos_of_another_size(rpi_build, unrelated_photos, tmp_path):
    """The video takes the first photo's size; a smaller photo of another shape is
    scaled into it with its own aspect ratio, not stretched to fill it."""
    mp4 = tmp_path / "annotated.mp4"
    result = run(rpi_build, "--source", unrelated_photos, "--output", mp4)
    assert result.exit_code == 0, result.output
    capture = cv2.VideoCapture(str(mp4))
    frames = [capture.read()[1] for _ in range(3)]
    capture.release()
    assert all(frame.shape == (350, 700, 3) for frame in frames)
    width, height = content_size(frames[1])  # b_small, 76x82
    assert height == 350 and width / height == pytest.approx(76 / 82, abs=0.02)
    assert frames[1][:, :150].max() < 40 and frames[1][:, -150:].max() < 40


def test_wild_sample_photos_are_named_and_tracked_apart(rpi_build, wild_sample, tmp_path):
    """The issue's case: the wild sample's first ten photos (the third is 76x82)."""
    folder = tmp_path / "wild"
    folder.mkdir()
    photos = sorted((wild_sample / "images").glob("*.jpg"))[:10]
    for photo in photos:
        (folder / photo.name).symlink_to(photo)
    jsonl, mp4 = tmp_path / "out.jsonl", tmp_path / "out.mp4"
    result = run(rpi_build, "--source", folder, "--json", jsonl, "--output", mp4)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [line["file"] for line in lines] == [p.name for p in photos]
    assert sum(len(line["faces"]) for line in lines) >= 8
    for line in lines:
        ids = sorted(face["track_id"] for face in line["faces"])
        assert ids == list(range(1, len(ids) + 1)), line["file"]
    capture = cv2.VideoCapture(str(mp4))
    frames = [capture.read()[1] for _ in photos]
    capture.release()
    small = cv2.imread(str(photos[2]))
    assert small.shape[:2] == (82, 76) and frames[2].shape == (350, 350, 3)
    width, height = content_size(frames[2])
    assert height == 350 and width / height == pytest.approx(76 / 82, abs=0.02)


def test_tiles_find_the_faces_of_a_distant_group(builds, tmp_path):
    frame, centres = distant_faces_frame()
    folder = tmp_path / "group"
    folder.mkdir()
    cv2.imwrite(str(folder / "group.png"), frame)
    faces = {}
    for tiles in ("1", "3"):
        result = run(builds["rpi"], "--source", folder, "--json", "-", "--tiles", tiles)
        assert result.exit_code == 0, result.output
        (line,) = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
        faces[tiles] = line["faces"]
    assert "(3x3 tiles)" in result.output
    assert faces["1"] == []
    assert len(faces["3"]) == len(centres)
    assert all(face["label"] in Build.load(builds["rpi"]).labels for face in faces["3"])


def test_rtsp_stream_of_photos_gives_a_face_per_frame(builds):
    from stream_support import RtspServer

    frames = [cv2.resize(cv2.imread(str(p), cv2.IMREAD_COLOR), (320, 320)) for p in PHOTOS]
    with RtspServer(frames, fps=15) as server:
        result = run(builds["x86"], "--source", server.url, "--max-frames", "8", "--json", "-")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 8
    assert all(len(line["faces"]) == 1 for line in lines)


def test_smoothing_and_max_frames(builds, video, tmp_path):
    jsonl = tmp_path / "out.jsonl"
    result = run(
        builds["rpi"],
        "--source",
        video,
        "--json",
        jsonl,
        "--smoothing",
        "vote",
        "--max-frames",
        "4",
    )
    assert result.exit_code == 0, result.output
    assert len(jsonl.read_text().splitlines()) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "57"], "no camera at index 57"),
        (["--source", "missing.mp4"], "no such file"),
        (["--source", "rtsp://127.0.0.1:9/live"], "cannot open stream rtsp://127.0.0.1:9/live"),
        (["--source", str(PHOTOS[0]), "--smoothing", "kalman"], "--smoothing"),
        (["--source", str(PHOTOS[0]), "--output", "out.txt"], "video file"),
        (["--source", str(PHOTOS[0]), "--show"], "--show"),
        (["--source", str(PHOTOS[0]), "--detector", "haar", "--tiles", "3"], "no option tiles"),
    ],
)
def test_bad_input_is_one_clear_line(builds, args, message):
    result = run(builds["rpi"], *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("option", "name"),
    [("--json", "faces.jsonl"), ("--output", "out.mp4"), ("--save-crops", "crops")],
)
def test_an_output_that_cannot_be_written_stops_before_any_frame(builds, tmp_path, option, name):
    """Under a regular file no folder can be made, root or not: one line naming the
    option, exit 2, nothing read (it was an OSError traceback for --json)."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run(builds["rpi"], "--source", str(PHOTOS[0]), option, str(blocker / name))
    assert result.exit_code == 2, result.output
    assert f"cannot write {option} there" in result.output
    assert "Traceback" not in result.output and "frames:" not in result.output
    folder_as_file = run(builds["rpi"], "--source", str(PHOTOS[0]), "--json", str(tmp_path))
    assert folder_as_file.exit_code == 2 and "names a folder" in folder_as_file.output


def test_a_stream_that_fails_is_our_one_line_alone(builds):
    """A real process, so OpenCV's native warnings on file descriptor 2 count too."""
    command = [sys.executable, "-c", "from emoedge.cli import main; main()", "run"]
    command += [str(builds["rpi"]), "--source", "rtsp://127.0.0.1:9/live"]
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("OPENCV_FFMPEG_LOGLEVEL", None)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr  # not OpenCV's "[ WARN", not FFmpeg's "[tcp @"
    assert "cannot open stream rtsp://127.0.0.1:9/live" in lines[0]


def test_sigterm_finishes_the_video_and_the_json_lines(builds, tmp_path):
    """`timeout` or a service manager stops a run with SIGTERM: what was written stays usable."""
    import signal
    import time

    video, jsonl = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    command = [sys.executable, "-c", "from emoedge.cli import main; main()", "run"]
    command += [str(builds["rpi"]), "--source", str(WILD_IMAGES), "--loop"]
    command += ["--output", str(video), "--json", str(jsonl)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not jsonl.exists() or jsonl.stat().st_size < 20_000):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "interrupted" in stderr
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    capture = cv2.VideoCapture(str(video))
    frames = 0
    while capture.read()[0]:
        frames += 1
    capture.release()
    # every line's frame is in the video, but for the one the signal may have caught
    # between its JSON line and its video frame
    assert len(lines) > 10 and len(lines) - 1 <= frames <= len(lines)


def test_unopenable_video_and_tampered_build(builds, tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video at all" * 20)
    result = run(builds["rpi"], "--source", bad)
    assert result.exit_code == 2 and "cannot open video" in result.output

    copy = Path(shutil.copytree(builds["x86"], tmp_path / "x86"))
    (copy / Build.load(copy).files["model"].path).write_text("<xml/>")
    result = run(copy, "--source", PHOTOS[0])
    assert result.exit_code == 2 and "checksum" in result.output


def test_camera_means_the_targets_camera(builds):
    # rpi: picamera2 (not installed on x86: a clear error naming it)
    result = run(builds["rpi"], "--source", "camera")
    assert result.exit_code == 2 and "picamera2" in result.output
    # x86: V4L2 index 0 (no camera on CI: a clear error)
    result = run(builds["x86"], "--source", "camera:3")
    assert result.exit_code == 2 and "no camera at index 3" in result.output
    # jetson: the CSI GStreamer pipeline (pip OpenCV has no GStreamer: a clear error)
    result = run(builds["jetson"], "--source", "camera")
    assert result.exit_code == 2 and "GStreamer" in result.output


def test_print_faces_gives_one_readable_line_per_photo(builds, tmp_path):
    jsonl = tmp_path / "out.jsonl"
    result = run(builds["rpi"], "--source", WILD_IMAGES, "--print-faces", "--json", jsonl)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    printed = [line for line in result.stdout.splitlines() if line.startswith("frame ")]
    assert len(printed) == len(PHOTOS) == len(records)
    for line, record in zip(printed, records, strict=True):
        face = record["faces"][0]
        assert line.startswith(
            f"frame {record['frame_index']}: #{face['track_id']} {face['label']} "
        )


def test_help_shows_the_pipelines_defaults_and_docs():
    """The pipeline's options take their defaults, ranges and help from `PipelineConfig`,
    the dataclass the daemon's `[pipeline]` keys are made from."""
    import re

    from emoedge.targets.pipeline_config import SETTINGS, PipelineConfig

    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    defaults = PipelineConfig()
    for option, key, shown in (
        ("--tiles <int range>", "detector_tiles", f"default: {defaults.detector_tiles}; 1<=x<=8"),
        ("--max-faces <int range>", "max_faces", f"default: {defaults.max_faces}; x>=1"),
        ("--min-face <int range>", "min_face", f"default: {defaults.min_face}; x>=1"),
        (
            "--align / --no-align",
            "align",
            "default: align" if defaults.align else "default: no-align",
        ),
        ("--threads <int range>", "threads", "x>=0"),
    ):
        entry = re.search(re.escape(option) + r" (.*?) \[([^\]]*)\]", text)
        assert entry, option
        assert entry.group(1) == SETTINGS[key].doc, option
        assert entry.group(2) == shown, option
    for option, key in (
        ("--runtime", "runtime"),
        ("--detector", "detector"),
        ("--flip-tta", "flip_tta"),
    ):
        assert (
            f"{option} <str> {SETTINGS[key].doc}" in text or f"{option} {SETTINGS[key].doc}" in text
        )


def test_the_runtime_and_detector_docs_name_each_registered_one():
    """Their help lists the registries' names by hand (PipelineConfig stays free of the
    runtime modules' imports); a runtime or detector added or renamed must show there."""
    import re

    from emoedge.targets.detectors import DETECTORS, HOST_ONLY
    from emoedge.targets.pipeline_config import SETTINGS
    from emoedge.targets.runtimes import RUNTIMES

    runtime_doc = SETTINGS["runtime"].doc
    assert re.search(r"\(([^)]*)\)", runtime_doc).group(1).split(" | ") == list(RUNTIMES)
    detector_doc = SETTINGS["detector"].doc
    named = set(re.findall(r"\b(haar|mtcnn|blazeface(?:-full)?)\b", detector_doc))
    assert named == set(DETECTORS)
    for name in HOST_ONLY:
        assert f"{name} on a host with TensorFlow" in detector_doc
