"""Prometheus text exposition (format 0.0.4), written by hand.

A dozen gauges and counters do not justify a client library on the device;
the format is lines of `name{label="value"} number` with HELP/TYPE headers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from emoedge.daemon.state import STATES, ServiceState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class Exposition:
    """Collects metric families and renders them."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: Iterable[tuple[dict[str, Any], float]] | float,
    ) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")
        if isinstance(samples, (int, float)):
            samples = [({}, samples)]
        for labels, value in samples:
            if labels:
                inner = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items())
                self._lines.append(f"{name}{{{inner}}} {_number(value)}")
            else:
                self._lines.append(f"{name} {_number(value)}")

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"


def render_metrics(state: ServiceState, *, aggregates_only: bool = False) -> str:
    """The daemon's metrics; per-label counts are aggregates, so they appear in every mode."""
    snap = state.snapshot()
    build = state.build
    e = Exposition()
    e.family(
        "emoedge_build_info",
        "gauge",
        "The build the pipeline runs (value is always 1).",
        [
            (
                {
                    "model": build.model,
                    "target": build.target,
                    "format": build.format,
                    "precision": build.precision,
                    "runtime": build.runtime,
                    "detector": build.detector,
                },
                1,
            )
        ],
    )
    e.family(
        "emoedge_uptime_seconds", "gauge", "Seconds since the daemon started.", snap["uptime_s"]
    )
    e.family(
        "emoedge_source_state",
        "gauge",
        "1 for the source's current state.",
        [({"state": s}, 1 if snap["state"] == s else 0) for s in STATES],
    )
    e.family(
        "emoedge_source_reconnects_total",
        "counter",
        "Times the source failed and the daemon began reconnecting.",
        snap["source"]["reconnects"],
    )
    e.family("emoedge_frames_total", "counter", "Frames the pipeline processed.", snap["frames"])
    e.family(
        "emoedge_dropped_frames_total",
        "counter",
        "Frames the source dropped because the pipeline was busy.",
        snap["dropped_frames"],
    )
    e.family(
        "emoedge_fps", "gauge", "Pipeline frames per second over the last seconds.", snap["fps"]
    )
    latest = state.latest_result() or {}
    e.family("emoedge_faces", "gauge", "Faces in the latest frame.", len(latest.get("faces") or []))
    e.family(
        "emoedge_faces_total", "counter", "Face observations (faces x frames).", snap["faces_total"]
    )
    e.family(
        "emoedge_emotion_observations_total",
        "counter",
        "Face observations per emotion label.",
        [({"label": k}, v) for k, v in sorted(state.label_totals.items())],
    )
    e.family(
        "emoedge_stage_milliseconds",
        "gauge",
        "Smoothed time per pipeline stage (exponential moving average).",
        [({"stage": k}, v) for k, v in sorted(snap["timings_ms"].items())],
    )
    e.family(
        "emoedge_events_written_total",
        "counter",
        "Emotion segments durably committed to the event log by this process.",
        snap["events_written"],
    )
    e.family(
        "emoedge_minutes_written_total",
        "counter",
        "Minute aggregates committed to the event log by this process.",
        snap["minutes_written"],
    )
    e.family(
        "emoedge_loop_errors_total",
        "counter",
        "Frames the pipeline failed on (logged and skipped).",
        snap["loop_errors"],
    )
    e.family(
        "emoedge_sse_clients", "gauge", "Connected server-sent-event clients.", snap["sse_clients"]
    )
    e.family(
        "emoedge_mqtt_connected",
        "gauge",
        "1 while connected to the MQTT broker.",
        snap["mqtt"]["connected"],
    )
    e.family(
        "emoedge_mqtt_published_total",
        "counter",
        "MQTT messages handed to the client.",
        snap["mqtt"]["published"],
    )
    with state._lock:
        requests = sorted(state.http_requests.items())
    e.family(
        "emoedge_http_requests_total",
        "counter",
        "HTTP requests by path and status.",
        [({"path": p, "code": c}, n) for (p, c), n in requests],
    )
    return e.render()
