"""What the running service knows, shared between the loop (one writer) and readers.

The service loop updates `ServiceState` once per frame; everything else reads
`Snapshot`s: one frozen, typed value made under the lock, so a slow reader
never holds the pipeline up and never sees half an update. The same value is
what the daemon sends its HTTP process (`http_process.py`), where /v1/status,
/healthz and /metrics are all answered from it: one description of the state,
not a list of fields copied one by one. `EventHub` fans events out to
server-sent-event clients, each with its own bounded queue: a client that stops
reading loses its oldest events, it never blocks the loop.
"""

from __future__ import annotations

import bisect
import collections
import os
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emoedge.targets.manifest import Manifest

STATES = ("starting", "running", "reconnecting", "stopped")
#: Upper bounds (seconds) of the stage-latency histogram buckets: 0.5 ms (a
#: tracker update) to 1 s (a detector on a busy Pi); above that is +Inf.
STAGE_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


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
        manifest: Manifest,
        runtime: str | None = None,
        detector: str | None = None,
    ) -> BuildInfo:
        """`runtime` and `detector`: what the pipeline runs, over what the build names."""
        model = manifest.model
        return cls(
            path=path,
            model=(model.name or model.source) if model else "",
            target=manifest.target or "",
            format=manifest.format,
            precision=manifest.precision,
            runtime=runtime or manifest.runtime.name,
            detector=detector or (manifest.detector.name if manifest.detector else ""),
            labels=list(manifest.labels),
        )


@dataclass(frozen=True)
class SourceStatus:
    spec: str
    state: str
    error: str | None
    retry_in_s: float | None
    reconnects: int
    # The newest error, kept after the source recovers (`error` clears): the page's
    # Health says what went wrong last, not only what is wrong now.
    last_error: str | None = None
    last_error_at: float | None = None  # epoch seconds


@dataclass(frozen=True)
class MqttStatus:
    connected: bool
    published: int
    failed: int


@dataclass(frozen=True)
class StageHistogram:
    """One stage's latencies: observations per bucket of `STAGE_BUCKETS_S` (not
    cumulative; the last is above the top bound) and their sum in seconds."""

    counts: tuple[int, ...]
    sum_s: float


@dataclass(frozen=True)
class Snapshot:
    """The whole state at one instant, as readers (and the HTTP process) get it."""

    pid: int  # the daemon's process: its CPU and memory are what /metrics reports
    started: float
    uptime_s: float
    state: str
    state_since: float
    heartbeat: float  # time.monotonic() of the loop's last sign of life (one clock system-wide)
    source: SourceStatus
    fps: float
    frames: int
    dropped_frames: int
    faces_total: int
    label_totals: dict[str, int]
    latest: dict[str, Any] | None
    timings_ms: dict[str, float]
    stages: dict[str, StageHistogram]
    events_written: int
    last_event_id: int
    minutes_written: int
    loop_errors: int
    reloads: int
    mqtt: MqttStatus
    build: BuildInfo
    sse_clients: int

    def status(self) -> dict[str, Any]:
        """The counters part of /v1/status (`HttpApi.status` adds the access settings)."""
        return {
            "state": self.state,
            "state_since": self.state_since,
            "source": asdict(self.source),
            "uptime_s": round(self.uptime_s, 3),
            "started": self.started,
            "fps": round(self.fps, 3),
            "frames": self.frames,
            "dropped_frames": self.dropped_frames,
            "faces_total": self.faces_total,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "events_written": self.events_written,
            "last_event_id": self.last_event_id,
            "minutes_written": self.minutes_written,
            "loop_errors": self.loop_errors,
            "reloads": self.reloads,
            "mqtt": asdict(self.mqtt),
            "sse_clients": self.sse_clients,
            "model": self.build.model,
            "build": {k: v for k, v in asdict(self.build).items() if k != "model"},
        }


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


class Served:
    """What a server keeps of its own beside the state it serves: its SSE clients' hub,
    the preview frame, its request counters. The daemon's `ServiceState` and the HTTP
    process's `ServedState` both have it, so the server code runs on either."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.hub = EventHub()
        # The preview: the latest frame and its faces, kept only when preview is on.
        self._preview: tuple[int, Any, Any] | None = None
        self.preview_cond = threading.Condition()
        self.http_requests: collections.Counter[tuple[str, int]] = collections.Counter()

    def snapshot(self) -> Snapshot:
        raise NotImplementedError

    def latest_result(self) -> dict[str, Any] | None:
        return self.snapshot().latest

    def count_request(self, path: str, code: int) -> None:
        with self._lock:
            self.http_requests[(path, code)] += 1

    def requests(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self.http_requests)

    def set_preview(self, index: int, image: Any, frame_result: Any) -> None:
        with self.preview_cond:
            self._preview = (index, image, frame_result)
            self.preview_cond.notify_all()

    def preview(self, after: int | None, timeout: float) -> tuple[int, Any, Any] | None:
        """The newest preview frame with index > `after`, waiting up to `timeout`."""
        with self.preview_cond:
            if self._preview is None or (after is not None and self._preview[0] <= after):
                self.preview_cond.wait(timeout)
            item = self._preview
        if item is None or (after is not None and item[0] <= after):
            return None
        return item


class ServiceState(Served):
    """Counters, the latest result and the source state; `snapshot()` for readers."""

    def __init__(self, labels: list[str] | None = None, fps_window_s: float = 5.0) -> None:
        super().__init__()
        self.started = time.time()
        self._started_mono = time.monotonic()
        self.state = "starting"
        self.state_since = time.time()
        self.source_spec = ""
        self.source_error: str | None = None
        self.last_error: tuple[str, float] | None = None
        self.retry_in_s: float | None = None
        self.reconnects = 0
        self.frames = 0
        self.dropped = 0  # frames the source dropped (cumulative over reopened sources)
        self.faces_total = 0
        self.label_totals: dict[str, int] = {label: 0 for label in labels or []}
        self.latest: dict[str, Any] | None = None
        self.timings: dict[str, float] = {}
        self._stage_counts: dict[str, list[int]] = {}
        self._stage_sums: dict[str, float] = {}
        self.build = BuildInfo()
        self.events_written = 0
        self.last_event_id = 0
        self.minutes_written = 0
        self.loop_errors = 0
        self.reloads = 0
        self.heartbeat = time.monotonic()  # the loop's last sign of life (watchdog)
        self._frame_times: collections.deque[float] = collections.deque()
        self._fps_window_s = fps_window_s
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
            if error:
                self.last_error = (error, time.time())
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
                counts = self._stage_counts.get(name)
                if counts is None:
                    counts = self._stage_counts[name] = [0] * (len(STAGE_BUCKETS_S) + 1)
                seconds = value / 1000.0
                counts[bisect.bisect_left(STAGE_BUCKETS_S, seconds)] += 1  # le: value <= bound
                self._stage_sums[name] = self._stage_sums.get(name, 0.0) + seconds
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
            self.set_preview(int(result.get("frame_index", self.frames)), image, frame_result)

    def record_log(self, written: int, last_id: int, minutes: int) -> None:
        with self._lock:
            self.events_written, self.last_event_id, self.minutes_written = (
                written,
                last_id,
                minutes,
            )

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

    def latest_result(self) -> dict[str, Any] | None:
        with self._lock:
            return self.latest

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                pid=os.getpid(),
                started=self.started,
                uptime_s=self.uptime_s,
                state=self.state,
                state_since=self.state_since,
                heartbeat=self.heartbeat,
                source=SourceStatus(
                    spec=self.source_spec,
                    state=self.state,
                    error=self.source_error,
                    retry_in_s=self.retry_in_s,
                    reconnects=self.reconnects,
                    last_error=self.last_error[0] if self.last_error else None,
                    last_error_at=self.last_error[1] if self.last_error else None,
                ),
                fps=self._fps_locked(),
                frames=self.frames,
                dropped_frames=self.dropped,
                faces_total=self.faces_total,
                label_totals=dict(self.label_totals),
                latest=self.latest,
                timings_ms=dict(self.timings),
                stages={
                    name: StageHistogram(tuple(counts), self._stage_sums[name])
                    for name, counts in self._stage_counts.items()
                },
                events_written=self.events_written,
                last_event_id=self.last_event_id,
                minutes_written=self.minutes_written,
                loop_errors=self.loop_errors,
                reloads=self.reloads,
                mqtt=MqttStatus(self.mqtt_connected, self.mqtt_published, self.mqtt_failed),
                build=self.build,
                sse_clients=self.hub.listeners,
            )
