"""Network streams from real servers on loopback (tests/stream_support.py: RTSP and
HTTP MJPEG), read by OpenCV's FFmpeg as `emoedge run rtsp://...` reads an IP camera."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time

import numpy as np
import pytest
from stream_support import MjpegHttpServer, RtspServer

from emoedge.targets import sources
from emoedge.targets.sources import SourceError, open_source

LEVELS = (40, 120, 200)


def _gray_frames() -> list[np.ndarray]:
    return [np.full((240, 320, 3), level, np.uint8) for level in LEVELS]


def _level(image: np.ndarray) -> int:
    """Which of LEVELS a decoded (JPEG-compressed) frame shows."""
    return int(np.argmin([abs(float(image.mean()) - level) for level in LEVELS]))


def test_stream_frames_arrive_whole_and_in_order():
    with RtspServer(_gray_frames(), fps=30) as server, open_source(server.url) as source:
        assert source.reader.live and "stream rtsp://127.0.0.1" in source.reader.description
        frames = [next(source) for _ in range(9)]
    assert all(frame.image.shape == (240, 320, 3) for frame in frames)
    assert all(abs(frame.image.mean() - LEVELS[_level(frame.image)]) < 3 for frame in frames)
    # A live source may drop frames under load (it keeps the newest), never reorder them.
    assert [frame.index for frame in frames] == sorted({frame.index for frame in frames})
    steps = [
        (_level(b.image) - _level(a.image)) % 3 - (b.index - a.index) % 3
        for a, b in itertools.pairwise(frames)
    ]
    assert steps == [0] * 8
    assert all(frame.timestamp == pytest.approx(time.time(), abs=30) for frame in frames)


def test_a_stream_that_stops_ends_the_source_with_a_warning(caplog):
    server = RtspServer(_gray_frames(), fps=30).__enter__()
    source = open_source(server.url, realtime=False)
    with source:
        next(source)
        server.stop()
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="emoedge.targets.sources"):
            rest = list(source)  # what FFmpeg had buffered, then the end
        assert time.monotonic() - started < sources.STREAM_TIMEOUT_S
    assert len(rest) < 60
    assert "the stream has ended" in caplog.text


def test_a_server_that_never_answers_fails_to_open_within_the_timeout(monkeypatch):
    monkeypatch.setattr(sources, "STREAM_TIMEOUT_S", 1.0)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
    started = time.monotonic()
    with pytest.raises(SourceError, match="no answer within 1 s"):
        open_source(f"rtsp://127.0.0.1:{silent.getsockname()[1]}/live")
    assert time.monotonic() - started < 10
    silent.close()


def test_an_http_mjpeg_stream_is_read_like_a_camera():
    with MjpegHttpServer(_gray_frames(), fps=30) as server, open_source(server.url) as source:
        assert source.reader.live
        frames = [next(source) for _ in range(6)]
    assert all(frame.image.shape == (240, 320, 3) for frame in frames)
    assert {_level(frame.image) for frame in frames} == {0, 1, 2}
