"""The daemon's Prometheus metrics, exposed with `prometheus_client`.

Why a custom collector over the snapshot instead of `Counter`/`Gauge` objects:
the numbers are counted in the daemon's process (by the loop, once per frame),
but served by the HTTP process (`http_process.py`), which only ever holds the
latest `Snapshot` the daemon sent it. prometheus_client's metric objects live
in the memory of the process that increments them; its multiprocess mode (one
mmap file per process in `PROMETHEUS_MULTIPROC_DIR`) is made for worker pools
that all count, needs a writable shared folder (the systemd sandbox allows one
folder) and cleanup after crashes, and would keep a second set of counters in
step with the snapshot. `DaemonCollector` instead reads the snapshot at scrape
time, so /metrics and /v1/status can never disagree, and the loop pays nothing
per scrape. The stage-latency histograms are bucketed by the loop itself
(`ServiceState.record_frame`, bounds `STAGE_BUCKETS_S`) and only rendered here.

Process metrics: `process_*` are the daemon's own process (read from
/proc/<its pid>, the pid the snapshot carries), `emoedge_http_process_*` the
HTTP process's. Names follow the Prometheus conventions (base units, `_total`
on counters, `_info` for the build); `promtool check metrics` passes on them
(tests/test_daemon_http.py). Renamed from the hand-written exposition:
`emoedge_fps` is `emoedge_frames_per_second`, `emoedge_stage_milliseconds` is
`emoedge_stage_smoothed_seconds` (both gauges, as before), and
`emoedge_minutes_written_total` is `emoedge_minute_aggregates_written_total`
(promtool reads "minutes" as a unit).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from emoedge.daemon.state import STAGE_BUCKETS_S, STATES, Snapshot

if TYPE_CHECKING:
    from emoedge.daemon.http import HttpApi

#: The classic text format: every Prometheus since 2.0 reads it (prometheus_client's
#: latest, 1.0.0, only the newest servers; the bodies are the same for these names).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def _counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, help_text, value=value)


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _per_label(
    family: CounterMetricFamily | GaugeMetricFamily, values: dict[str, float]
) -> CounterMetricFamily | GaugeMetricFamily:
    """`family` (one label) with a sample per key of `values`, in key order, so a
    scrape lists labels the same way every time."""
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class DaemonCollector(Collector):
    """Every emoedge_* family, from one snapshot per scrape."""

    def __init__(self, api: HttpApi) -> None:
        self.api = api

    def collect(self) -> Iterator[Metric]:
        state = self.api.state
        snap: Snapshot = state.snapshot()
        build = snap.build
        yield InfoMetricFamily(
            "emoedge_build",
            "The build the pipeline runs.",
            value={
                "model": build.model,
                "target": build.target,
                "format": build.format,
                "precision": build.precision,
                "runtime": build.runtime,
                "detector": build.detector,
            },
        )
        yield _gauge("emoedge_start_time_seconds", "Unix time the daemon started.", snap.started)
        yield _gauge("emoedge_uptime_seconds", "Seconds since the daemon started.", snap.uptime_s)
        yield _gauge(
            "emoedge_loop_silent_seconds",
            "Seconds since the pipeline loop's last sign of life (the watchdog's measure).",
            max(0.0, time.monotonic() - snap.heartbeat),
        )
        source = GaugeMetricFamily(
            "emoedge_source_state", "1 for the source's current state.", labels=["state"]
        )
        for name in STATES:
            source.add_metric([name], 1 if snap.state == name else 0)
        yield source
        yield _counter(
            "emoedge_source_reconnects_total",
            "Times the source failed and the daemon began reconnecting.",
            snap.source.reconnects,
        )
        yield _counter("emoedge_frames_total", "Frames the pipeline processed.", snap.frames)
        yield _counter(
            "emoedge_dropped_frames_total",
            "Frames the source dropped because the pipeline was busy.",
            snap.dropped_frames,
        )
        yield _gauge(
            "emoedge_frames_per_second",
            "Pipeline frames per second over the last seconds.",
            snap.fps,
        )
        latest = snap.latest or {}
        yield _gauge("emoedge_faces", "Faces in the latest frame.", len(latest.get("faces") or []))
        yield _counter(
            "emoedge_faces_total", "Face observations (faces x frames).", snap.faces_total
        )
        yield _per_label(
            CounterMetricFamily(
                "emoedge_emotion_observations",
                "Face observations per emotion label.",
                labels=["label"],
            ),
            snap.label_totals,
        )
        yield _per_label(
            GaugeMetricFamily(
                "emoedge_stage_smoothed_seconds",
                "Time per pipeline stage, exponential moving average (weight 0.1 per frame).",
                labels=["stage"],
            ),
            {stage: ms / 1000.0 for stage, ms in snap.timings_ms.items()},
        )
        latency = HistogramMetricFamily(
            "emoedge_stage_duration_seconds",
            "Time per pipeline stage, per frame.",
            labels=["stage"],
        )
        for stage, hist in sorted(snap.stages.items()):
            running, buckets = 0, []
            for bound, count in zip((*STAGE_BUCKETS_S, float("inf")), hist.counts, strict=True):
                running += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            latency.add_metric([stage], buckets, sum_value=hist.sum_s)
        yield latency
        yield _counter(
            "emoedge_events_written_total",
            "Emotion segments durably committed to the event log by this process.",
            snap.events_written,
        )
        yield _counter(
            "emoedge_minute_aggregates_written_total",
            "Minute aggregates committed to the event log by this process.",
            snap.minutes_written,
        )
        yield _counter(
            "emoedge_loop_errors_total",
            "Frames the pipeline failed on (logged and skipped).",
            snap.loop_errors,
        )
        yield _counter("emoedge_reloads_total", "Config reloads applied.", snap.reloads)
        yield _gauge(
            "emoedge_sse_clients", "Connected server-sent-event clients.", snap.sse_clients
        )
        yield _gauge(
            "emoedge_mqtt_connected", "1 while connected to the MQTT broker.", snap.mqtt.connected
        )
        yield _counter(
            "emoedge_mqtt_published_total",
            "MQTT messages handed to the client.",
            snap.mqtt.published,
        )
        yield _counter(
            "emoedge_mqtt_failed_total",
            "MQTT messages the client refused to queue.",
            snap.mqtt.failed,
        )
        requests = CounterMetricFamily(
            "emoedge_http_requests", "HTTP requests by path and status.", labels=["path", "code"]
        )
        for (path, code), count in sorted(state.requests().items()):
            requests.add_metric([path, str(code)], count)
        yield requests


def metrics_registry(api: HttpApi) -> CollectorRegistry:
    """A registry of the daemon's families and both processes' process metrics."""
    registry = CollectorRegistry()
    registry.register(DaemonCollector(api))
    ProcessCollector(namespace="", pid=lambda: api.state.snapshot().pid, registry=registry)
    ProcessCollector(namespace="emoedge_http", registry=registry)
    return registry
