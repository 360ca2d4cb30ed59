"""Where frames come from: cameras, picamera2, GStreamer, URLs, video files, image folders.

`open_source(spec)` picks the reader from the spec's form and returns a `Source`,
an iterator of `Frame`s. Live sources (cameras, streams) capture in their own
thread into a small queue that drops the *oldest* frame when full: a model
slower than the camera then always sees the newest frame instead of building up
seconds of latency. Files and folders are read in order, every frame, in the
caller's thread, unless `realtime=True` (then a video plays at its own frame rate
and drops what the consumer cannot keep up with, like a camera).

OpenCV and numpy only; picamera2 is imported only when asked for.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emoedge.data.images import IMAGE_SUFFIXES, is_image_file, read_image
from emoedge.errors import UserInputError

log = logging.getLogger(__name__)

URL_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
#: a live source that fails this many reads in a row has ended (camera unplugged, stream gone)
MAX_FAILED_READS = 30
#: seconds a network stream may take to open, or to deliver the next packet, before it
#: counts as failed (FFmpeg's default in OpenCV is 30 s, a long hang for `emoedge run`)
STREAM_TIMEOUT_S = 10.0


class SourceError(UserInputError):
    """A source that cannot be opened or read: no camera at that index, a bad path or URL."""


@dataclass(frozen=True)
class Frame:
    """One captured frame. `index` counts captured frames, so frames the queue
    dropped show as gaps; `timestamp` is wall-clock seconds for live sources and
    folders, seconds into the video for video files; `capture_ms` is the time the
    read itself took; `file` is the name of the image it was read from (image
    folders and single images, else None): a photo that does not decode is
    skipped, so the index alone cannot say which photo a frame is."""

    index: int
    timestamp: float
    image: np.ndarray
    capture_ms: float
    file: str | None = None


class Reader(ABC):
    """One way of getting the next image; None means the stream has ended."""

    live: bool = False
    fps: float | None = None
    length: int | None = None  # frames, when known (files and folders)
    current_file: str | None = None  # name of the image the last read() returned (FolderReader)

    @abstractmethod
    def read(self) -> tuple[np.ndarray, float] | None:
        """The next image and its timestamp, or None at the end."""

    def rewind(self) -> bool:
        """Start again from the first frame (for `loop`); False if not possible."""
        return False

    def release(self) -> None:  # noqa: B027 - most readers hold nothing to release
        pass


class CaptureReader(Reader):
    """cv2.VideoCapture over a camera index, a GStreamer pipeline, a URL or a video file."""

    def __init__(
        self,
        target: str | int,
        api: int,
        *,
        live: bool,
        description: str,
        width: int | None = None,
        height: int | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.description = description
        self.live = live
        self._target, self._api = target, api
        params = []
        if timeout_s:
            ms = int(timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        self._capture = cv2.VideoCapture(target, api, params)
        if not self._capture.isOpened():
            self._capture.release()
            waited = f" (no answer within {timeout_s:g} s, or refused)" if timeout_s else ""
            raise SourceError(f"cannot open {description}{waited}")
        if width:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None
        count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.length = count if not live and count > 0 else None
        self._failures = 0
        # a stream that stops without a reset fails each read only after its read
        # timeout: counted in reads, MAX_FAILED_READS of them hung for minutes
        self._timeout_s = timeout_s
        self._last_good = time.monotonic()

    def read(self) -> tuple[np.ndarray, float] | None:
        while True:
            ok, image = self._capture.read()
            if ok and image is not None and image.size:
                self._failures = 0
                self._last_good = time.monotonic()
                if self.live:
                    return image, time.time()
                return image, self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not self.live:
                return None  # end of the file (or an unreadable tail)
            self._failures += 1
            failing_s = time.monotonic() - self._last_good
            if self._failures >= MAX_FAILED_READS or (
                self._timeout_s and failing_s >= self._timeout_s
            ):
                log.warning(
                    "%s: %d failed reads in a row over %.1f s; the stream has ended",
                    self.description,
                    self._failures,
                    failing_s,
                )
                return None
            time.sleep(0.01)

    def rewind(self) -> bool:
        if self.live:
            return False
        return bool(self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0))

    def release(self) -> None:
        self._capture.release()


class FolderReader(Reader):
    """Image files in name order; a file that does not decode is skipped with a warning."""

    def __init__(self, paths: list[Path], description: str) -> None:
        self.description = description
        self._paths = paths
        self._next = 0
        self.length = len(paths)

    def read(self) -> tuple[np.ndarray, float] | None:
        while self._next < len(self._paths):
            path = self._paths[self._next]
            self._next += 1
            try:
                image = read_image(path)
            except UserInputError as exc:
                log.warning("%s, skipped", exc)
                continue
            self.current_file = path.name
            return image, time.time()
        return None

    def rewind(self) -> bool:
        self._next = 0
        return True


class Picamera2Reader(Reader):
    """The Raspberry Pi camera through picamera2 (libcamera), BGR frames."""

    live = True

    def __init__(self, camera: int, width: int | None, height: int | None) -> None:
        self.description = f"picamera2 camera {camera}"
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError as exc:
            raise SourceError(
                "picamera2 is not installed (on Raspberry Pi OS: sudo apt install python3-picamera2, "
                "and create the venv with --system-site-packages)"
            ) from exc
        try:
            self._camera = Picamera2(camera)
            # "RGB888" is libcamera's name for B,G,R byte order: what OpenCV expects.
            config = self._camera.create_video_configuration(
                main={"format": "RGB888", "size": (width or 640, height or 480)}
            )
            self._camera.configure(config)
            self._camera.start()
        except Exception as exc:  # picamera2 raises plain RuntimeError/IndexError
            raise SourceError(f"cannot open {self.description}: {exc}") from exc

    def read(self) -> tuple[np.ndarray, float] | None:
        image = self._camera.capture_array("main")
        return image, time.time()

    def release(self) -> None:
        try:
            self._camera.stop()
            self._camera.close()
        except Exception:  # closing a dead camera must not mask the real error
            log.debug("picamera2 close failed", exc_info=True)


_END = object()


class Source:
    """An iterator of `Frame`s over a `Reader`; a context manager that releases it.

    With `threaded`, a capture thread fills a queue of `queue_size` frames and
    drops the oldest when it is full (`dropped` counts them).
    """

    def __init__(
        self,
        reader: Reader,
        *,
        threaded: bool,
        queue_size: int = 2,
        loop: bool = False,
        pace: bool = False,
    ) -> None:
        if queue_size < 1:
            raise UserInputError(f"queue_size must be at least 1, got {queue_size}")
        self.reader = reader
        self.description = getattr(reader, "description", type(reader).__name__)
        self.loop = loop
        self.dropped = 0
        self._index = 0
        self._closed = False
        self._threaded = threaded
        self._pace = pace and bool(reader.fps)
        self._queue: deque = deque()
        self._queue_size = queue_size
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self._stop = threading.Event()
        # held across each read and the release: OpenCV's VideoCapture is not
        # thread-safe, and close() comes from other threads (stop, reload, the
        # stall monitor) exactly when a read may be blocked for seconds
        self._io_lock = threading.Lock()
        self._released = False
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(
                target=self._capture_loop, name="emoedge-capture", daemon=True
            )
            self._thread.start()

    @property
    def live(self) -> bool:
        return self.reader.live

    def _read_one(self) -> Frame | None:
        start = time.perf_counter()
        with self._io_lock:
            if self._released:
                return None
            got = self.reader.read()
            if got is None and self.loop and self.reader.rewind():
                got = self.reader.read()
        if got is None:
            return None
        image, timestamp = got
        capture_ms = (time.perf_counter() - start) * 1000.0
        frame = Frame(self._index, timestamp, image, capture_ms, self.reader.current_file)
        self._index += 1
        return frame

    def _capture_loop(self) -> None:
        period = 1.0 / self.reader.fps if self._pace and self.reader.fps else 0.0
        next_due = time.perf_counter()
        try:
            while not self._stop.is_set():
                if period:
                    delay = next_due - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    next_due += period
                frame = self._read_one()
                with self._cond:
                    if frame is None:
                        self._queue.append(_END)
                        self._cond.notify_all()
                        return
                    if len(self._queue) >= self._queue_size:
                        self._queue.popleft()
                        self.dropped += 1
                    self._queue.append(frame)
                    self._cond.notify_all()
        except BaseException as exc:  # handed to the consumer, not lost in the thread
            with self._cond:
                self._error = exc
                self._queue.append(_END)
                self._cond.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        if self._closed:
            raise StopIteration
        if not self._threaded:
            frame = self._read_one()
            if frame is None:
                raise StopIteration
            return frame
        with self._cond:
            while not self._queue:
                self._cond.wait(timeout=0.5)
                if self._closed:
                    raise StopIteration
            item = self._queue.popleft()
            if item is _END:
                self._queue.appendleft(_END)  # stay ended
                if self._error is not None:
                    error, self._error = self._error, None
                    if isinstance(error, SourceError):
                        raise error
                    raise SourceError(f"{self.description}: capture failed ({error})") from error
                raise StopIteration
            return item

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._io_lock.acquire(timeout=0.1):
            try:
                self._release_now()
            finally:
                self._io_lock.release()
        else:  # a read is blocked (a stream's timeout): release once it returns
            threading.Thread(target=self._release_after_read, daemon=True).start()

    def _release_now(self) -> None:
        if not self._released:
            self._released = True
            self.reader.release()

    def _release_after_read(self) -> None:
        with self._io_lock:
            self._release_now()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:  # a forgotten source must not keep the camera busy
        with contextlib.suppress(Exception):
            self.close()


def _open_camera(index: int, width: int | None, height: int | None) -> Reader:
    # V4L2 on Linux; elsewhere let OpenCV choose.
    api = cv2.CAP_V4L2 if Path("/dev").is_dir() and hasattr(cv2, "CAP_V4L2") else cv2.CAP_ANY
    try:
        return CaptureReader(
            index, api, live=True, description=f"camera {index}", width=width, height=height
        )
    except SourceError:
        devices = (
            sorted(str(p) for p in Path("/dev").glob("video*")) if Path("/dev").is_dir() else []
        )
        found = (
            f"video devices here: {', '.join(devices)}"
            if devices
            else "no /dev/video* devices here"
        )
        raise SourceError(f"no camera at index {index} ({found})") from None


#: a Jetson CSI camera (e.g. IMX219) as BGR frames for OpenCV, newest frame only
JETSON_CSI_PIPELINE = (
    "nvarguscamerasrc sensor-id={sensor} ! video/x-raw(memory:NVMM),width={width},height={height},"
    "framerate=30/1 ! nvvidconv ! video/x-raw,format=BGRx ! videoconvert ! video/x-raw,format=BGR ! "
    "appsink drop=true max-buffers=1"
)


def camera_spec(backend: str, index: int = 0, width: int = 1280, height: int = 720) -> str:
    """The source spec of a target profile's camera (`TargetProfile.camera`):
    picamera2 -> "picamera2:N", gstreamer -> a Jetson CSI pipeline, v4l2 -> "N"."""
    if backend == "picamera2":
        return f"picamera2:{index}"
    if backend == "gstreamer":
        return JETSON_CSI_PIPELINE.format(sensor=index, width=width, height=height)
    if backend == "v4l2":
        return str(index)
    raise UserInputError(
        f"unknown camera backend {backend!r}; expected picamera2, gstreamer or v4l2"
    )


def _gstreamer_available() -> bool:
    info = cv2.getBuildInformation()
    for line in info.splitlines():
        if "GStreamer" in line:
            return "YES" in line
    return False


def open_source(
    spec: str | int,
    *,
    realtime: bool | None = None,
    queue_size: int = 2,
    loop: bool = False,
    width: int | None = None,
    height: int | None = None,
) -> Source:
    """Open a frame source from its spec.

    Forms: an int or digit string (camera index, V4L2; `camera` is camera 0,
    `camera:N` camera N), `picamera2` or
    `picamera2:N`, a GStreamer pipeline (contains `!`, ends in `appsink`), an
    `rtsp://` / `http(s)://` URL, a video file, an image folder, one image.
    `realtime` (default: True for cameras and streams, False for files) captures
    in a thread with a `queue_size` queue that drops the oldest frame. `loop`
    restarts files and folders at their end. `width`/`height` ask a camera for a
    capture size.
    """
    reader: Reader
    if isinstance(spec, bool):
        raise SourceError(f"not a source: {spec!r}")
    text = str(spec).strip()
    if not text:
        raise SourceError("empty source; give a camera index, a file, a folder or a URL")
    if text == "camera" or text.startswith("camera:"):
        text = text.partition(":")[2] or "0"
        if not text.isdigit():
            raise SourceError(f"camera index must be a number, got {text!r}")
    if isinstance(spec, int) or text.isdigit():
        reader = _open_camera(int(text), width, height)
    elif text == "picamera2" or text.startswith("picamera2:"):
        number = text.partition(":")[2] or "0"
        if not number.isdigit():
            raise SourceError(f"picamera2 camera number must be a digit, got {number!r}")
        reader = Picamera2Reader(int(number), width, height)
    elif "!" in text:
        if not _gstreamer_available():
            raise SourceError(
                "this OpenCV build has no GStreamer support (pip wheels do not; on a Jetson use "
                "JetPack's OpenCV, or give a V4L2 camera index instead)"
            )
        reader = CaptureReader(
            text, cv2.CAP_GSTREAMER, live=True, description=f"GStreamer pipeline {text!r}"
        )
    elif text.lower().startswith(URL_PREFIXES):
        reader = CaptureReader(
            text,
            cv2.CAP_FFMPEG,
            live=True,
            description=f"stream {text}",
            timeout_s=STREAM_TIMEOUT_S,
        )
    else:
        path = Path(text).expanduser()
        if path.is_dir():
            try:
                files = sorted(p for p in path.iterdir() if is_image_file(p))
            except OSError as exc:  # unreadable (permissions), or gone since is_dir()
                raise SourceError(
                    f"{path}: cannot list the folder ({exc.strerror or exc})"
                ) from exc
            if not files:
                raise SourceError(
                    f"{path}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
                )
            reader = FolderReader(files, f"image folder {path}")
        elif is_image_file(path):
            try:
                read_image(path)
            except UserInputError as exc:
                raise SourceError(str(exc)) from exc
            reader = FolderReader([path], f"image {path}")
        elif path.is_file():
            reader = CaptureReader(str(path), cv2.CAP_ANY, live=False, description=f"video {path}")
        else:
            raise SourceError(f"{path}: no such file, folder, camera index or URL")
    if realtime is None:
        realtime = reader.live
    return Source(
        reader,
        threaded=realtime,
        queue_size=queue_size,
        loop=loop,
        pace=realtime and not reader.live,
    )


__all__ = [
    "JETSON_CSI_PIPELINE",
    "CaptureReader",
    "FolderReader",
    "Frame",
    "Picamera2Reader",
    "Reader",
    "Source",
    "SourceError",
    "camera_spec",
    "open_source",
]
