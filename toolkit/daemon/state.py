"""What the running service knows, shared between the loop (one writer) and readers.

The service loop updates `ServiceState` once per frame; the HTTP threads, the
metrics endpoint and the MQTT publisher only read snapshots. Everything a
reader gets is a copy made under the lock, so a slow client never holds the
pipeline up. `EventHub` fans events out to server-sent-event clients, each with
its own bounded queue: a client that stops reading loses its oldest events, it
never blocks the loop.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

STATES = ("starting", "running", "reconnecting", "stopped")


@dataclass
class BuildInfo:
    """The model behind the pipeline, as /v1/status and /metrics report it."""

    path: str = ""
    model: str = ""
    target: str = ""
    format: str = ""
    precision: str = ""
    runtime: str = ""
    detector: str = ""
    labels: list[str] = field(default_factory=list)

    @classmethod
    def from_manifest(
        cls,
        path: str,
        manifest: dict[str, Any],
        runtime: str | None = None,
        detector: str | None = None,
    ) -> BuildInfo:
        model = manifest.get("model")
        if isinstance(model, dict):
            model = model.get("name") or model.get("source") or ""
        det = manifest.get("detector") or {}
        return cls(
            path=path,
            model=str(model or ""),
            target=str(manifest.get("target") or ""),
            format=str(manifest.get("format") or ""),
            precision=str(manifest.get("precision") or ""),
            runtime=runtime or str((manifest.get("runtime") or {}).get("name", "")),
            detector=detector or str(det.get("name", "") if isinstance(det, dict) else det),
            labels=list(manifest.get("labels") or []),
        )


class EventHub:
    """Fan-out of events to any number of listeners (SSE clients), never blocking the sender."""

    def __init__(self, maxsize: int = 256) -> None:
        self._lock = threading.Lock()
        self._queues: set[queue.Queue] = set()
        self.maxsize = maxsize
        self.dropped = 0

    def subscribe(self, maxsize: int | None = None) -> queue.Queue:
        q: queue.Queue = queue.Queue(maxsize or self.maxsize)
        with self._lock:
            self._queues.add(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            self._queues.discard(q)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._queues)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            targets = list(self._queues)
        for q in targets:
            try:
                q.put_nowait((kind, data))
            except queue.Full:
                self.dropped += 1
                try:  # drop the oldest, keep the newest
                    q.get_nowait()
                    q.put_nowait((kind, data))
                except (queue.Empty, queue.Full):
                    pass


class ServiceState:
    """Counters, the latest result and the source state; thread-safe snapshots."""

    def __init__(self, labels: list[str] | None = None, fps_window_s: float = 5.0) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self._started_mono = time.monotonic()
        self.state = "starting"
        self.state_since = time.time()
        self.source_spec = ""
        self.source_error: str | None = None
        self.retry_in_s: float | None = None
        self.reconnects = 0
        self.frames = 0
        self.dropped = 0  # frames the source dropped (cumulative over reopened sources)
        self.faces_total = 0
        self.label_totals: dict[str, int] = {label: 0 for label in labels or []}
        self.latest: dict[str, Any] | None = None
        self.timings: dict[str, float] = {}
        self.build = BuildInfo()
        self.events_written = 0
        self.last_event_id = 0
        self.minutes_written = 0
        self.loop_errors = 0
        self.reloads = 0
        self.heartbeat = time.monotonic()  # the loop's last sign of life (watchdog)
        self._frame_times: collections.deque[float] = collections.deque()
        self._fps_window_s = fps_window_s
        self.hub = EventHub()
        # The preview: the latest frame and its faces, kept only when preview is on.
        self._preview: tuple[int, Any, Any] | None = None
        self.preview_cond = threading.Condition()
        self.http_requests: collections.Counter[tuple[str, int]] = collections.Counter()
        self.mqtt_connected = False
        self.mqtt_published = 0
        self.mqtt_failed = 0

    # -- writer side (service loop) -------------------------------------------------
    def set_state(
        self, state: str, error: str | None = None, retry_in_s: float | None = None
    ) -> None:
        assert state in STATES, state
        with self._lock:
            changed = state != self.state
            self.state = state
            if changed:
                self.state_since = time.time()
            self.source_error = error
            self.retry_in_s = retry_in_s
            if state == "reconnecting" and changed:
                self.reconnects += 1
            self.heartbeat = time.monotonic()
        if changed:
            self.hub.publish(
                "state", {"type": "state", "state": state, "error": error, "time": time.time()}
            )

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def record_frame(
        self,
        result: dict[str, Any],
        timings: dict[str, float],
        dropped: int,
        image: Any = None,
        frame_result: Any = None,
    ) -> None:
        """Count a processed frame. `image` and `frame_result` (the pipeline's object)
        are kept for the preview only, and only when it is on (the caller decides)."""
        now = time.monotonic()
        faces = result.get("faces") or []
        with self._lock:
            self.frames += 1
            self.dropped = dropped
            self.latest = result
            self.heartbeat = now
            for name, value in timings.items():
                old = self.timings.get(name)
                self.timings[name] = value if old is None else 0.9 * old + 0.1 * value
            self.faces_total += len(faces)
            for face in faces:
                label = face.get("label")
                if label is not None:
                    self.label_totals[label] = self.label_totals.get(label, 0) + 1
            times = self._frame_times
            times.append(now)
            while times and now - times[0] > self._fps_window_s:
                times.popleft()
        if image is not None:
            with self.preview_cond:
                self._preview = (int(result.get("frame_index", self.frames)), image, frame_result)
                self.preview_cond.notify_all()

    def record_log(self, written: int, last_id: int, minutes: int) -> None:
        with self._lock:
            self.events_written, self.last_event_id, self.minutes_written = (
                written,
                last_id,
                minutes,
            )

    def count_request(self, path: str, code: int) -> None:
        with self._lock:
            self.http_requests[(path, code)] += 1

    # -- reader side ----------------------------------------------------------------
    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self._started_mono

    def fps(self) -> float:
        with self._lock:
            return self._fps_locked()

    def _fps_locked(self) -> float:
        times = self._frame_times
        if len(times) < 2:
            return 0.0
        now = time.monotonic()
        if now - times[-1] > 2.0:  # stalled: report it rather than the last rate
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self.state,
                "state_since": self.state_since,
                "source": {
                    "spec": self.source_spec,
                    "state": self.state,
                    "error": self.source_error,
                    "retry_in_s": self.retry_in_s,
                    "reconnects": self.reconnects,
                },
                "uptime_s": round(self.uptime_s, 3),
                "started": self.started,
                "fps": round(self._fps_locked(), 3),
                "frames": self.frames,
                "dropped_frames": self.dropped,
                "faces_total": self.faces_total,
                "timings_ms": {k: round(v, 3) for k, v in self.timings.items()},
                "events_written": self.events_written,
                "last_event_id": self.last_event_id,
                "minutes_written": self.minutes_written,
                "loop_errors": self.loop_errors,
                "reloads": self.reloads,
                "mqtt": {
                    "connected": self.mqtt_connected,
                    "published": self.mqtt_published,
                    "failed": self.mqtt_failed,
                },
                "sse_clients": self.hub.listeners,
            }

    def latest_result(self) -> dict[str, Any] | None:
        with self._lock:
            return self.latest

    def preview(self, after: int | None, timeout: float) -> tuple[int, Any, Any] | None:
        """The newest preview frame with index > `after`, waiting up to `timeout`."""
        with self.preview_cond:
            if self._preview is None or (after is not None and self._preview[0] <= after):
                self.preview_cond.wait(timeout)
            item = self._preview
        if item is None or (after is not None and item[0] <= after):
            return None
        return item
