"""Face tracks across frames, and per-track smoothing of class probabilities.

A per-frame classifier flickers between neighbouring emotions on nearly the same
face. An IoU tracker gives each face an ID that survives from frame to frame (and
a few frames without a detection), and each track smooths its probabilities,
either with an exponential moving average or with a vote over its last N labels.
Numpy only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from emoedge.errors import UserInputError
from emoedge.targets.boxes import corners, iou_matrix

Box = tuple[int, int, int, int]  # x, y, w, h

SMOOTHING = ("ema", "vote", "none")


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    return float(iou_matrix(corners([a]), corners([b]))[0, 0])


class Smoother(ABC):
    """Turns one track's stream of probability vectors into a steady label."""

    @abstractmethod
    def update(self, probabilities: np.ndarray) -> tuple[int, np.ndarray]:
        """Add this frame's probabilities; return (label index, smoothed probabilities)."""


class NoSmoothing(Smoother):
    def update(self, probabilities: np.ndarray) -> tuple[int, np.ndarray]:
        return int(np.argmax(probabilities)), probabilities


class EmaSmoothing(Smoother):
    """s = alpha * p + (1 - alpha) * s_previous; alpha 1 means no smoothing."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.state: np.ndarray | None = None

    def update(self, probabilities: np.ndarray) -> tuple[int, np.ndarray]:
        if self.state is None:
            self.state = probabilities.astype(np.float32).copy()
        else:
            self.state = self.alpha * probabilities + (1.0 - self.alpha) * self.state
        return int(np.argmax(self.state)), self.state


class VoteSmoothing(Smoother):
    """The most frequent label over the last `window` frames (ties: the most recent
    of the tied labels); probabilities are the window's mean."""

    def __init__(self, window: int) -> None:
        self.history: deque[np.ndarray] = deque(maxlen=window)

    def update(self, probabilities: np.ndarray) -> tuple[int, np.ndarray]:
        self.history.append(probabilities.astype(np.float32))
        labels = [int(np.argmax(p)) for p in self.history]
        counts = np.bincount(labels, minlength=len(probabilities))
        best = counts.max()
        label = next(lab for lab in reversed(labels) if counts[lab] == best)
        return label, np.mean(np.stack(self.history), axis=0)


@dataclass(frozen=True)
class TrackerConfig:
    """`smoothing`: ema | vote | none; `alpha`: EMA weight of the newest frame;
    `window`: frames in the vote; `iou_threshold`: least overlap that continues a
    track; `max_missed`: frames a track survives without a matching face."""

    smoothing: str = "ema"
    alpha: float = 0.4
    window: int = 5
    iou_threshold: float = 0.3
    max_missed: int = 5

    def __post_init__(self) -> None:
        if self.smoothing not in SMOOTHING:
            raise UserInputError(
                f"smoothing must be one of {', '.join(SMOOTHING)}, got {self.smoothing!r}"
            )
        if not 0.0 < self.alpha <= 1.0:
            raise UserInputError(f"EMA alpha must be in (0, 1], got {self.alpha}")
        if self.window < 1:
            raise UserInputError(f"vote window must be at least 1, got {self.window}")
        if not 0.0 <= self.iou_threshold < 1.0:
            raise UserInputError(f"iou_threshold must be in [0, 1), got {self.iou_threshold}")
        if self.max_missed < 0:
            raise UserInputError(f"max_missed must be >= 0, got {self.max_missed}")

    def make_smoother(self) -> Smoother:
        if self.smoothing == "ema":
            return EmaSmoothing(self.alpha)
        if self.smoothing == "vote":
            return VoteSmoothing(self.window)
        return NoSmoothing()


@dataclass
class Track:
    track_id: int
    box: Box
    smoother: Smoother
    missed: int = 0


@dataclass(frozen=True)
class TrackedFace:
    """One face of the current frame: its track, smoothed label and probabilities."""

    track_id: int
    box: Box
    label_index: int
    probabilities: np.ndarray = field(repr=False)


class IoUTracker:
    """Greedy IoU matching of this frame's boxes to the live tracks."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        """Forget every track (a new video, a cut); IDs restart at 1."""
        self.tracks = []
        self._next_id = 1

    def update(
        self, boxes: list[Box], probabilities: list[np.ndarray] | np.ndarray
    ) -> list[TrackedFace]:
        """Match boxes to tracks, smooth, and return one `TrackedFace` per box, in order."""
        if len(boxes) != len(probabilities):
            raise ValueError(f"{len(boxes)} boxes but {len(probabilities)} probability rows")
        overlap_of = (
            iou_matrix(corners([track.box for track in self.tracks]), corners(boxes))
            if self.tracks and len(boxes)
            else np.zeros((len(self.tracks), len(boxes)))
        )
        pairs = sorted(
            (
                (float(overlap_of[t, b]), t, b)
                for t in range(len(self.tracks))
                for b in range(len(boxes))
            ),
            reverse=True,
        )
        track_of: dict[int, Track] = {}
        used_tracks: set[int] = set()
        for overlap, t, b in pairs:
            if overlap < self.config.iou_threshold or overlap == 0.0:
                break
            if t in used_tracks or b in track_of:
                continue
            used_tracks.add(t)
            track_of[b] = self.tracks[t]
        for t, track in enumerate(self.tracks):
            if t not in used_tracks:
                track.missed += 1
        self.tracks = [tr for tr in self.tracks if tr.missed <= self.config.max_missed]
        results = []
        for b, box in enumerate(boxes):
            track = track_of.get(b)
            if track is None:
                track = Track(self._next_id, box, self.config.make_smoother())
                self._next_id += 1
                self.tracks.append(track)
            track.box, track.missed = tuple(int(v) for v in box), 0  # type: ignore[assignment]
            label, smoothed = track.smoother.update(np.asarray(probabilities[b], dtype=np.float32))
            results.append(TrackedFace(track.track_id, track.box, label, smoothed))
        return results


__all__ = ["SMOOTHING", "IoUTracker", "TrackedFace", "TrackerConfig", "iou"]
