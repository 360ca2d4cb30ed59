"""IoU tracking and per-track smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from emoedge.errors import UserInputError
from emoedge.targets.tracking import IoUTracker, TrackerConfig, iou


def one_hot(index: int, n: int = 8, p: float = 0.9) -> np.ndarray:
    out = np.full(n, (1.0 - p) / (n - 1), np.float32)
    out[index] = p
    return out


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


def test_ids_stable_for_moving_faces_and_new_faces_get_new_ids():
    tracker = IoUTracker(TrackerConfig(smoothing="none"))
    left, right = (10, 10, 100, 100), (300, 10, 100, 100)
    ids = []
    for step in range(10):
        boxes = [(right[0] - step * 3, 10, 100, 100), (left[0] + step * 4, 10, 100, 100)]
        ids.append([f.track_id for f in tracker.update(boxes, [one_hot(0), one_hot(1)])])
    assert ids[0] == [1, 2]
    assert all(row == [1, 2] for row in ids)
    faces = tracker.update([(600, 300, 80, 80)], [one_hot(2)])
    assert faces[0].track_id == 3


def test_track_survives_missed_frames_then_expires():
    tracker = IoUTracker(TrackerConfig(smoothing="none", max_missed=2))
    box = (50, 50, 100, 100)
    assert tracker.update([box], [one_hot(0)])[0].track_id == 1
    tracker.update([], [])
    tracker.update([], [])
    assert tracker.update([box], [one_hot(0)])[0].track_id == 1  # back within 2 frames
    for _ in range(3):
        tracker.update([], [])
    assert tracker.update([box], [one_hot(0)])[0].track_id == 2  # gone for 3: a new track


def test_ema_stops_a_one_frame_flicker():
    tracker = IoUTracker(TrackerConfig(smoothing="ema", alpha=0.4))
    box = (0, 0, 100, 100)
    labels = [tracker.update([box], [one_hot(c)])[0].label_index for c in [1, 1, 1, 4, 1, 1]]
    assert labels == [1, 1, 1, 1, 1, 1]
    raw = IoUTracker(TrackerConfig(smoothing="none"))
    assert [raw.update([box], [one_hot(c)])[0].label_index for c in [1, 1, 1, 4, 1, 1]][3] == 4
    # a lasting change comes through after a few frames
    labels = [tracker.update([box], [one_hot(4)])[0].label_index for _ in range(4)]
    assert labels[-1] == 4 and labels[0] == 1


def test_vote_over_last_n():
    tracker = IoUTracker(TrackerConfig(smoothing="vote", window=3))
    box = (0, 0, 100, 100)
    out = [tracker.update([box], [one_hot(c)])[0] for c in [2, 5, 2, 5, 5]]
    assert [f.label_index for f in out] == [2, 5, 2, 5, 5]  # window 3: [2,5,2]->2, [5,2,5]->5
    flicker = IoUTracker(TrackerConfig(smoothing="vote", window=3))
    labels = [flicker.update([box], [one_hot(c)])[0].label_index for c in [3, 3, 6, 3, 3]]
    assert labels == [3, 3, 3, 3, 3]
    assert np.isclose(out[-1].probabilities.sum(), 1.0)


def test_tracks_smooth_independently_and_reset():
    tracker = IoUTracker(TrackerConfig(smoothing="ema", alpha=0.5))
    a, b = (0, 0, 50, 50), (200, 0, 50, 50)
    tracker.update([a, b], [one_hot(0), one_hot(7)])
    faces = tracker.update([a, b], [one_hot(0), one_hot(7)])
    assert [f.label_index for f in faces] == [0, 7]
    tracker.reset()
    assert tracker.update([b], [one_hot(3)])[0].track_id == 1


def test_bad_config():
    with pytest.raises(UserInputError):
        TrackerConfig(smoothing="kalman")
    with pytest.raises(UserInputError):
        TrackerConfig(alpha=0.0)
