"""Frame sources on real files: folders, videos written with cv2.VideoWriter, cameras."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from emoedge.errors import UserInputError
from emoedge.targets.sources import Frame, SourceError, open_source

WILD = Path(__file__).parent / "fixtures" / "wild" / "images"
PHOTOS = sorted(WILD.glob("*.jpg"))


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """The fixture photos as a 10 fps mp4, each photo held for 3 frames."""
    path = tmp_path_factory.mktemp("video") / "wild.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (350, 350))
    assert writer.isOpened()
    for photo in PHOTOS:
        image = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        for _ in range(3):
            writer.write(image)
    writer.release()
    return path


def test_folder_in_order_and_corrupt_file_skipped(tmp_path, caplog):
    for photo in PHOTOS[:3]:
        shutil.copy(photo, tmp_path / photo.name)
    (tmp_path / "Bzzz_broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored: not an image suffix")
    with open_source(str(tmp_path)) as source:
        frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(isinstance(f, Frame) and f.image.shape[:2] == (350, 350) for f in frames)
    assert all(f.capture_ms >= 0 for f in frames)
    assert source.dropped == 0
    assert "Bzzz_broken.jpg" in caplog.text
    # name order: the first photo comes first
    assert np.array_equal(frames[0].image, cv2.imread(str(PHOTOS[0]), cv2.IMREAD_UNCHANGED))


def test_truncated_photo_is_skipped_by_name(tmp_path, caplog):
    """A JPEG cut short is skipped with its name, not classified on the grey rows
    `cv2.imread` would fill in (libjpeg's own warning names no file)."""
    whole = PHOTOS[0].read_bytes()
    shutil.copy(PHOTOS[0], tmp_path / "a_whole.jpg")
    (tmp_path / "b_cut.jpg").write_bytes(whole[: len(whole) * 2 // 3])
    shutil.copy(PHOTOS[1], tmp_path / "c_whole.jpg")
    with open_source(str(tmp_path)) as source:
        frames = list(source)
    assert len(frames) == 2
    assert np.array_equal(frames[1].image, cv2.imread(str(PHOTOS[1]), cv2.IMREAD_UNCHANGED))
    assert "b_cut.jpg: truncated image file" in caplog.text
    assert "a_whole.jpg" not in caplog.text


@pytest.mark.parametrize("realtime", [False, True], ids=["in-order", "capture-thread"])
def test_frames_of_a_folder_or_an_image_name_their_file(tmp_path, video, realtime):
    """A photo that does not decode is skipped, so only its name says which photo a
    frame is; a video's frames come from no file of their own."""
    for photo in PHOTOS[:2]:
        shutil.copy(photo, tmp_path / photo.name)
    (tmp_path / f"{PHOTOS[0].stem}_broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with open_source(str(tmp_path), realtime=realtime) as source:
        assert [f.file for f in source] == [PHOTOS[0].name, PHOTOS[1].name]
    with open_source(str(PHOTOS[2])) as source:
        assert next(source).file == PHOTOS[2].name
    with open_source(str(video)) as source:
        assert next(source).file is None


def test_single_image_and_loop():
    with open_source(str(PHOTOS[0]), loop=True) as source:
        frames = [next(source) for _ in range(3)]
    assert [f.index for f in frames] == [0, 1, 2]
    assert np.array_equal(frames[0].image, frames[2].image)


def test_video_file_every_frame_in_order(video):
    with open_source(video) as source:
        frames = list(source)
    assert len(frames) == 3 * len(PHOTOS)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert frames[0].image.shape == (350, 350, 3)
    # timestamps are seconds into the video at 10 fps
    assert frames[10].timestamp == pytest.approx(1.0, abs=0.05)
    assert source.dropped == 0


def test_realtime_video_drops_oldest_for_a_slow_consumer(video):
    received = []
    with open_source(video, realtime=True, queue_size=2) as source:
        for frame in source:
            received.append(frame.index)
            time.sleep(0.35)  # a model far slower than 10 fps
    assert source.dropped > 0
    assert len(received) + source.dropped == 3 * len(PHOTOS)
    assert received == sorted(received)
    assert max(np.diff(received)) > 1  # gaps where frames were dropped
    assert received[-1] == 3 * len(PHOTOS) - 1  # the newest frame is never the one dropped


def test_missing_camera_index_is_a_source_error():
    with pytest.raises(SourceError, match="no camera at index 57"):
        open_source(57)
    with pytest.raises(UserInputError):  # SourceError is a UserInputError: exit code 2 in the CLI
        open_source("58")


def test_unopenable_inputs(tmp_path):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"definitely not a video" * 10)
    with pytest.raises(SourceError, match="cannot open video"):
        open_source(bad)
    with pytest.raises(SourceError, match="no such file"):
        open_source(tmp_path / "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        open_source(empty)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    with pytest.raises(SourceError, match=r"broken\.png: not a decodable image"):
        open_source(broken)
    with pytest.raises(SourceError, match="picamera2"):
        open_source("picamera2")  # not installed on x86
    with pytest.raises(SourceError):
        open_source("")


def test_close_stops_a_threaded_source(video):
    source = open_source(video, realtime=True, loop=True)
    next(source)
    source.close()
    with pytest.raises(StopIteration):
        next(source)


def test_close_never_releases_the_device_under_a_blocked_read():
    """close() comes from other threads (stop, reload, the stall monitor) when a
    camera or stream read is blocked; OpenCV's VideoCapture is not thread-safe, so
    the release waits for the read to return instead of running beside it."""
    import threading

    from emoedge.targets.sources import Reader, Source

    class BlockingCamera(Reader):
        """A device whose read blocks until unblocked, and that records overlaps."""

        live = True

        def __init__(self):
            self.unblock, self.reading = threading.Event(), threading.Event()
            self.in_read, self.released, self.released_during_read = False, False, False

        def read(self):
            self.in_read = True
            self.reading.set()
            self.unblock.wait(10)
            self.in_read = False
            return np.zeros((8, 8, 3), np.uint8), 0.0

        def release(self):
            self.released_during_read |= self.in_read
            self.released = True

    camera = BlockingCamera()
    source = Source(camera, threaded=True)
    assert camera.reading.wait(5)
    source.close()  # returns although the read is still blocked
    assert not camera.released
    camera.unblock.set()
    deadline = time.monotonic() + 5
    while not camera.released and time.monotonic() < deadline:
        time.sleep(0.01)
    assert camera.released and not camera.released_during_read
