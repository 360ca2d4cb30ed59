"""From frame results to events: per-track emotion changes and per-minute aggregates.

The pipeline says, every frame, which label each track shows. Publishing that
30 times a second would drown a broker and tell a listener nothing, so this
module keeps a little state per track and emits an event only when something
changes: a track appears (`start`), its label holds a new value for
`min_frames` frames in a row (`change` — a one-frame flicker is not a change),
or it has not been seen for `track_timeout_s` (`end`). Each event maps onto the
event log: start/change open a segment (closing the previous one), end closes it.

It reads frame results by attribute (the pipeline's `FrameResult`/`FaceResult`)
or by key (their `to_dict()` form), so it has no import-time tie to the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emoedge.daemon.eventlog import MinuteAggregate, SegmentClose, SegmentOpen


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


@dataclass
class TrackEvent:
    """One change on one track, as published on SSE and MQTT."""

    kind: str  # start | change | end
    track_id: int
    label: str
    previous: str | None
    score: float | None
    time: float
    segment: SegmentOpen | None = field(default=None, repr=False)

    @property
    def segment_id(self) -> int | None:
        """The event-log row of this segment (None until the batch is committed)."""
        return self.segment.id if self.segment is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "track",
            "kind": self.kind,
            "track_id": self.track_id,
            "label": self.label,
            "previous": self.previous,
            "score": self.score,
            "time": self.time,
            "segment_id": self.segment_id,
        }


@dataclass
class _Track:
    label: str
    last_seen: float
    segment: SegmentOpen
    frames: int = 0
    score_sum: float = 0.0
    candidate: str | None = None
    candidate_frames: int = 0
    last_score: float | None = None


@dataclass
class Batch:
    """What one frame produced: events to publish and rows to write, together."""

    events: list[TrackEvent] = field(default_factory=list)
    opened: list[SegmentOpen] = field(default_factory=list)
    closed: list[SegmentClose] = field(default_factory=list)
    minutes: list[MinuteAggregate] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.events or self.closed or self.minutes)


class ChangeDetector:
    """Per-track label state machine; `update` once per frame, `finish` at shutdown."""

    def __init__(self, min_frames: int = 3, track_timeout_s: float = 2.0) -> None:
        self.min_frames = max(1, min_frames)
        self.track_timeout_s = track_timeout_s
        self.tracks: dict[int, _Track] = {}

    @property
    def active(self) -> int:
        return len(self.tracks)

    def update(self, result: Any, now: float) -> Batch:
        batch = Batch()
        for face in _get(result, "faces", []) or []:
            track_id = _get(face, "track_id")
            label = _get(face, "label")
            if track_id is None or label is None:
                continue
            score = _get(face, "score")
            track = self.tracks.get(track_id)
            if track is None:
                self._open(batch, "start", int(track_id), label, None, score, now)
                continue
            track.last_seen = now
            track.last_score = score
            if label == track.label:
                track.candidate, track.candidate_frames = None, 0
                self._count(track, score)
                continue
            if label == track.candidate:
                track.candidate_frames += 1
            else:
                track.candidate, track.candidate_frames = label, 1
            if track.candidate_frames >= self.min_frames:
                self._close(batch, track, now)
                self._open(
                    batch,
                    "change",
                    int(track_id),
                    label,
                    track.label,
                    score,
                    now,
                    frames=track.candidate_frames,
                )
            else:
                self._count(track, score)
        for track_id, track in list(self.tracks.items()):
            if now - track.last_seen > self.track_timeout_s:
                self._close(batch, track, track.last_seen)
                batch.events.append(
                    TrackEvent(
                        "end",
                        track_id,
                        track.label,
                        None,
                        track.last_score,
                        track.last_seen,
                        track.segment,
                    )
                )
                del self.tracks[track_id]
        return batch

    def finish(self, now: float) -> Batch:
        """Close every open segment (clean shutdown); emits `end` for each track."""
        batch = Batch()
        for track_id, track in list(self.tracks.items()):
            self._close(batch, track, now)
            batch.events.append(
                TrackEvent("end", track_id, track.label, None, track.last_score, now, track.segment)
            )
        self.tracks.clear()
        return batch

    @staticmethod
    def _count(track: _Track, score: float | None) -> None:
        track.frames += 1
        if score is not None:
            track.score_sum += float(score)

    def _open(
        self,
        batch: Batch,
        kind: str,
        track_id: int,
        label: str,
        previous: str | None,
        score: float | None,
        now: float,
        frames: int = 1,
    ) -> None:
        segment = SegmentOpen(track_id=track_id, label=label, start=now, previous=previous)
        track = _Track(
            label=label,
            last_seen=now,
            segment=segment,
            frames=frames,
            score_sum=float(score or 0.0) * frames,
            last_score=score,
        )
        self.tracks[track_id] = track
        batch.opened.append(segment)
        batch.events.append(
            TrackEvent(
                kind,
                track_id,
                label,
                previous,
                None if score is None else float(score),
                now,
                segment,
            )
        )

    @staticmethod
    def _close(batch: Batch, track: _Track, end: float) -> None:
        """Close a track's segment. Its id is known only after commit: resolve it late."""
        mean = track.score_sum / track.frames if track.frames else None
        batch.closed.append(_PendingClose(track.segment, end, track.frames, mean))


class _PendingClose(SegmentClose):
    """A close whose segment id is read when the batch is written, not when it is made.

    A segment opened and closed before its first commit (never happens with one
    commit per frame, but cheap to get right) still gets the right id.
    """

    def __init__(self, segment: SegmentOpen, end: float, frames: int, mean: float | None) -> None:
        self._segment = segment
        self.end, self.frames, self.mean_score = end, frames, mean

    @property
    def id(self) -> int | None:  # type: ignore[override]
        return self._segment.id

    @id.setter
    def id(self, value: int | None) -> None:
        self._segment.id = value


class MinuteAggregator:
    """Counts per wall-clock minute; hands back a finished minute when the next one starts."""

    def __init__(self) -> None:
        self.current: MinuteAggregate | None = None
        self._tracks: set[int] = set()

    def add(self, result: Any, now: float) -> MinuteAggregate | None:
        minute = int(now // 60) * 60
        finished = None
        if self.current is not None and self.current.minute != minute:
            finished = self.flush()
        if self.current is None:
            self.current = MinuteAggregate(minute=minute)
        agg = self.current
        agg.frames += 1
        for face in _get(result, "faces", []) or []:
            label = _get(face, "label")
            if label is None:
                continue
            agg.faces += 1
            agg.counts[label] = agg.counts.get(label, 0) + 1
            track_id = _get(face, "track_id")
            if track_id is not None:
                self._tracks.add(int(track_id))
        agg.tracks = len(self._tracks)
        return finished

    def flush(self) -> MinuteAggregate | None:
        """The minute so far (shutdown, or rollover), and start afresh."""
        finished, self.current = self.current, None
        self._tracks = set()
        if finished is None or finished.frames == 0:
            return None
        return finished
