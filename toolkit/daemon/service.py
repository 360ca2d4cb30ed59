"""The service: source -> pipeline -> events -> log, HTTP, MQTT; for months.

Threads:
  main      signals (SIGTERM/SIGINT stop, SIGHUP reload), the stall monitor,
            systemd's watchdog; `run()` blocks here until stopped
  loop      opens the source, runs the pipeline on every frame, turns results
            into events, commits them to the log, then publishes them
  http-feed sends the state and events to the HTTP process (`http_process.py`),
            which serves HTTP at a lower priority than this process
  mqtt      paho's network thread

Source faults never end the process: a source that cannot be opened, ends,
raises, or stalls (no frame for `stall_timeout_s`) puts the service in
`reconnecting`, and it retries with exponential backoff (`retry_initial_s`,
doubling up to `retry_max_s`) until frames flow again (`running`).

Order matters for the guarantees: an event is committed to SQLite (durable)
before it is counted in /v1/status and before it is published, so anything a
listener heard of or the status reported as written survives `kill -9`.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from emoedge.daemon.backoff import Backoff
from emoedge.daemon.config import DaemonConfig, load_config
from emoedge.daemon.eventlog import EventLog
from emoedge.daemon.events import Batch, ChangeDetector, MinuteAggregator
from emoedge.daemon.http import ApiSettings
from emoedge.daemon.http_process import HttpProcess
from emoedge.daemon.limits import Limits
from emoedge.daemon.redact import install_log_redaction, redact
from emoedge.daemon.state import BuildInfo, ServiceState
from emoedge.daemon.systemd import notify, watchdog_interval
from emoedge.errors import EmoedgeError, UserInputError

log = logging.getLogger(__name__)

STOP_BUDGET_S = 5.0
PRUNE_EVERY_S = 600.0


def _api_settings(config: DaemonConfig) -> ApiSettings:
    """The HTTP child's reloadable settings from the config, at start and at each reload."""
    http = config.http
    return ApiSettings(
        token=http.token,
        aggregates_only=config.aggregates_only,
        preview=http.preview,
        max_requests_per_s=http.max_requests_per_s,
        max_client_requests_per_s=http.max_client_requests_per_s,
        allowed_hosts=http.allowed_hosts,
    )


def load_pipeline(config: DaemonConfig):
    from emoedge.targets.pipeline import Pipeline  # runtimes load here, not at import

    return Pipeline.from_build(config.pipeline.build, config=config.pipeline.pipeline_config())


def _open_source(config: DaemonConfig):
    from emoedge.targets.sources import open_source

    s = config.source
    return open_source(config.source_to_open(), realtime=s.pace, queue_size=2, loop=s.loop)


class DaemonService:
    """One running daemon. `run()` from the main thread; `stop()`/`reload()` from anywhere."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        pipeline_factory: Callable[[DaemonConfig], Any] = load_pipeline,
        source_factory: Callable[[DaemonConfig], Any] = _open_source,
    ) -> None:
        self.config = config
        self._pipeline_factory = pipeline_factory
        self._source_factory = source_factory
        self.state = ServiceState()
        self.state.source_spec = config.source.shown
        self._stop = threading.Event()
        self._reload_requested = threading.Event()
        self._reload_thread: threading.Thread | None = None
        self._reload_lock = threading.Lock()
        self._loop_lock = threading.Lock()  # the loop's per-frame work vs. the final flush
        self._flushed = False
        self._source: Any = None
        self._source_changed = threading.Event()
        self._pending_pipeline: Any = None
        self._dropped_base = 0
        self._last_frame = time.monotonic()
        self._last_frame_time: float | None = None  # wall clock of the last frame processed
        self._thread: threading.Thread | None = None
        self.pipeline: Any = None
        self.log: EventLog | None = None
        self.http: HttpProcess | None = None
        self.mqtt: Any = None
        self.changes = ChangeDetector(config.events.min_frames, config.events.track_timeout_s)
        self.minutes = MinuteAggregator()

    # -- start ----------------------------------------------------------------------
    def start(self) -> DaemonService:
        """Load the build, open the log, start HTTP and MQTT and the loop thread.

        Everything that can be wrong with the config fails here, before READY=1.
        """
        cfg = self.config
        self.pipeline = self._pipeline_factory(cfg)
        self._set_build_info(self.pipeline)
        self.log = EventLog(cfg.events.log)
        self.log.prune(cfg.events.retention_days)
        self._last_prune = time.monotonic()
        self.http = HttpProcess(
            self.state,
            cfg.http.host,
            cfg.http.port,
            settings=_api_settings(cfg),
            limits=Limits(
                max_connections=cfg.http.max_connections,
                max_streams=cfg.http.max_streams,
                request_timeout_s=cfg.http.request_timeout_s,
            ),
            tls=(str(cfg.http.tls_cert_file), str(cfg.http.tls_key_file))
            if cfg.http.tls_cert_file
            else None,
            reload=self.reload,
            event_log=str(cfg.events.log),
        ).start()
        if cfg.mqtt.enabled:
            self.mqtt = self._start_mqtt(cfg)
        self._thread = threading.Thread(target=self._loop, name="emoedge-loop", daemon=True)
        self._thread.start()
        log.info(
            "daemon: HTTP on %s:%d, event log %s, privacy %s",
            cfg.http.host,
            self.http.port,
            cfg.events.log,
            cfg.privacy,
        )
        notify(f"READY=1\nSTATUS=starting: {cfg.source.shown}")
        return self

    def _start_mqtt(self, cfg: DaemonConfig):
        return self._make_mqtt(cfg).start()

    def _make_mqtt(self, cfg: DaemonConfig):
        """The publisher, not yet connected: building it checks what can fail (TLS
        files), so a reload can do that before it changes anything."""
        from emoedge.daemon.mqtt import MqttPublisher

        return MqttPublisher(cfg.mqtt, self.state, aggregates_only=cfg.aggregates_only)

    def _set_build_info(self, pipeline: Any) -> None:
        describe = pipeline.describe() if hasattr(pipeline, "describe") else {}
        runtime = describe.get("runtime")
        runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
        info = BuildInfo.from_manifest(
            str(pipeline.build.root),
            pipeline.build.manifest,
            runtime=runtime_name,
            detector=describe.get("detector_label", describe.get("detector")),
        )
        if not info.model:
            info.model = pipeline.build.root.name
        self.state.build = info
        for label in info.labels:
            self.state.label_totals.setdefault(label, 0)

    # -- the loop -------------------------------------------------------------------
    def _wait(self, seconds: float) -> bool:
        """Sleep in slices, beating the heartbeat; True if asked to stop meanwhile."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self._source_changed.is_set():
                return False
            self.state.beat()
            self._stop.wait(min(left, 0.25))
        return True

    def _fault(self, message: str, backoff: float) -> None:
        message = redact(message)  # a source's error names its URL, password and all
        log.warning("source %s: %s; retrying in %.1f s", self.config.source.shown, message, backoff)
        self.state.set_state("reconnecting", message, retry_in_s=backoff)
        notify(f"STATUS=reconnecting: {message}")
        if self.mqtt is not None:
            self.mqtt.source_state("reconnecting", message)

    def _retry_after(self, message: str, backoff: Backoff) -> bool:
        """Report the fault and wait out the next delay; True if asked to stop meanwhile."""
        source = self.config.source  # retry limits a reload changed apply from here on
        backoff.initial_s, backoff.max_s = source.retry_initial_s, source.retry_max_s
        delay = backoff.next()
        self._fault(message, delay)
        return self._wait(delay)

    def _loop(self) -> None:
        backoff = Backoff(self.config.source.retry_initial_s, self.config.source.retry_max_s)
        while not self._stop.is_set():
            self._source_changed.clear()
            try:
                source = self._source_factory(self.config)
            except Exception as exc:  # whatever failed, the loop thread must live to retry
                if not isinstance(exc, EmoedgeError):
                    log.exception("opening source %s failed", self.config.source.shown)
                message = (
                    str(exc) if isinstance(exc, EmoedgeError) else f"{type(exc).__name__}: {exc}"
                )
                if self._retry_after(message, backoff):
                    break
                continue
            self._source = source
            got_frame = False
            reason = "the source ended"
            try:
                for frame in source:
                    if self._stop.is_set() or self._source_changed.is_set():
                        break
                    if not got_frame:
                        got_frame = True
                        backoff.reset()
                        self.state.set_state("running")
                        notify(f"STATUS=running: {self.config.source.shown}")
                        if self.mqtt is not None:
                            self.mqtt.source_state("running")
                    self._process(frame, source)
            except EmoedgeError as exc:
                reason = str(exc)
            except Exception as exc:  # a driver or decoder fault is a source fault too
                log.exception("source %s failed", self.config.source.shown)
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._dropped_base += int(getattr(source, "dropped", 0) or 0)
                self._source = None
                try:
                    source.close()
                except Exception:
                    log.debug("closing the source failed", exc_info=True)
            if self._stop.is_set():
                break
            self._end_scene()
            if self._source_changed.is_set():
                continue  # reload: reopen at once with the new settings
            if self._retry_after(reason, backoff):
                break
        self._finish()

    def _end_scene(self) -> None:
        """A source that ended, failed or was replaced ends its tracks at its last
        frame: what comes after an outage, or from another camera, starts new tracks
        instead of continuing the old ones' segments across the gap."""
        with self._loop_lock:
            if not (self._flushed or self.config.aggregates_only) and self._last_frame_time:
                self._commit_and_publish(self.changes.finish(self._last_frame_time))
        self.pipeline.reset()

    def _process(self, frame: Any, source: Any) -> None:
        if self._pending_pipeline is not None:
            self._swap_pipeline()
        try:
            result = self.pipeline(frame.image, frame.timestamp, capture_ms=frame.capture_ms)
        except Exception:
            self.state.loop_errors += 1
            if self.state.loop_errors <= 10 or self.state.loop_errors % 1000 == 0:
                log.exception(
                    "pipeline failed on frame %d (%d errors so far)",
                    frame.index,
                    self.state.loop_errors,
                )
            self.state.beat()
            return
        now = time.time()
        self._last_frame = time.monotonic()
        self._last_frame_time = now
        data = result.to_dict()
        data["time"] = now
        # width, height: the page draws the boxes of /v1/latest to scale
        data["frame_size"] = [int(frame.image.shape[1]), int(frame.image.shape[0])]
        with self._loop_lock:
            if self._flushed:
                return
            batch = Batch() if self.config.aggregates_only else self.changes.update(result, now)
            finished = self.minutes.add(result, now)
            if finished is not None:
                batch.minutes.append(finished)
            self._commit_and_publish(batch)
        dropped = self._dropped_base + int(getattr(source, "dropped", 0) or 0)
        preview = frame.image if self.config.http.preview else None
        self.state.record_frame(
            data,
            result.timings,
            dropped,
            image=preview,
            frame_result=result if preview is not None else None,
        )
        if time.monotonic() - self._last_prune > PRUNE_EVERY_S:
            self._last_prune = time.monotonic()
            try:
                self.log.prune(self.config.events.retention_days)
            except sqlite3.Error:  # retried at the next period; not a camera fault
                log.exception("event log: retention pruning failed")

    def _commit_and_publish(self, batch: Batch) -> None:
        """Durable first, then counted, then told: the order the guarantees rest on."""
        if not batch:
            return
        try:
            self.log.commit(batch.opened, batch.closed, batch.minutes)
        except sqlite3.Error:
            # a full disk or a lock held too long is not a camera fault: the source
            # keeps running; this batch is lost (rolled back), never half-written,
            # and not published, since only what is durable is told
            self.state.loop_errors += 1
            log.exception(
                "event log: writing %d opened, %d closed segment(s) and %d minute(s) failed",
                len(batch.opened),
                len(batch.closed),
                len(batch.minutes),
            )
            return
        self.state.record_log(self.log.written, self.log.last_id, self.log.minutes_written)
        for event in batch.events:
            data = event.to_dict()
            self.state.hub.publish("track", data)
            if self.mqtt is not None:
                self.mqtt.track_event(data)
        for minute in batch.minutes:
            data = {"type": "minute", **minute.to_dict()}
            self.state.hub.publish("minute", data)
            if self.mqtt is not None:
                self.mqtt.minute(minute.to_dict())

    def _swap_pipeline(self) -> None:
        """A reloaded build takes over between frames; its tracker starts afresh."""
        new, self._pending_pipeline = self._pending_pipeline, None
        with self._loop_lock:
            self._commit_and_publish(self.changes.finish(time.time()))
        self.pipeline = new
        self._set_build_info(new)
        log.info("daemon: now running %s", new.build.root)

    def _finish(self) -> None:
        """Close open segments and the minute so far; once, whoever gets here first."""
        with self._loop_lock:
            if self._flushed or self.log is None:
                return
            self._flushed = True
            now = time.time()
            batch = self.changes.finish(now) if not self.config.aggregates_only else Batch()
            last = self.minutes.flush()
            if last is not None:
                batch.minutes.append(last)
            try:
                self._commit_and_publish(batch)
            except Exception:
                log.exception("daemon: final flush of the event log failed")

    # -- control --------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def request_reload(self) -> None:
        self._reload_requested.set()

    def reload(self) -> dict[str, Any]:
        """Re-read the config file and apply it; raises `UserInputError` if it is invalid.

        Applied live: source, pipeline (the build and every setting), event
        settings, retention, token, preview, privacy, MQTT. The HTTP address and the
        event-log path need a restart (reported, not applied).
        """
        with self._reload_lock:
            notify("RELOADING=1")
            try:
                new = load_config(self.config.path)
                old = self.config
                changed = [
                    name
                    for name in ("pipeline", "source", "http", "mqtt", "events", "privacy")
                    if getattr(new, name) != getattr(old, name)
                ]
                restart = []
                if (new.http.host, new.http.port) != (old.http.host, old.http.port):
                    restart.append("http.bind")
                if new.events.log != old.events.log:
                    restart.append("events.log")
                limits = ("max_connections", "max_streams", "request_timeout_s")
                limits += ("tls_cert_file", "tls_key_file")
                restart += [
                    f"http.{name}"
                    for name in limits
                    if getattr(new.http, name) != getattr(old.http, name)
                ]
                # What can fail is built first, so a refused reload changes nothing
                # (it used to leave the new pipeline live and MQTT off).
                pending = self._pipeline_factory(new) if new.pipeline != old.pipeline else None
                mqtt_changed = new.mqtt != old.mqtt or new.privacy != old.privacy
                fresh_mqtt = self._make_mqtt(new) if mqtt_changed and new.mqtt.enabled else None
                if pending is not None:
                    self._pending_pipeline = pending
                with self._loop_lock:
                    self.changes.min_frames = new.events.min_frames
                    self.changes.track_timeout_s = new.events.track_timeout_s
                    if new.aggregates_only and not old.aggregates_only:
                        self._commit_and_publish(self.changes.finish(time.time()))
                    # keep what cannot change live
                    http = new.http.model_copy(update={"bind": old.http.bind})
                    events = new.events.model_copy(update={"log": old.events.log})
                    self.config = replace(new, http=http, events=events)
                if mqtt_changed:
                    if self.mqtt is not None:
                        self.mqtt.stop(timeout=1.0)
                        self.mqtt = None
                        self.state.mqtt_connected = False
                    if fresh_mqtt is not None:
                        self.mqtt = fresh_mqtt.start()
                if new.source != old.source:
                    self.state.source_spec = new.source.shown
                    self._source_changed.set()
                    source = self._source
                    if source is not None and getattr(source, "live", False):
                        source.close()  # unblock a camera wait; files stop at the next frame
                if new.events.retention_days != old.events.retention_days:
                    try:
                        self.log.prune(new.events.retention_days)
                    except sqlite3.Error:  # the loop prunes again within PRUNE_EVERY_S
                        log.exception("event log: retention pruning failed")
                self.state.reloads += 1
                # Last, with the state: the HTTP process never shows the new access or
                # privacy settings beside a status that does not count this reload yet.
                self.http.configure(_api_settings(self.config))
                log.info(
                    "daemon: config reloaded (changed: %s%s)",
                    ", ".join(changed) or "nothing",
                    f"; restart needed for {', '.join(restart)}" if restart else "",
                )
                return {"reloaded": True, "changed": changed, "restart_required": restart}
            finally:
                notify("READY=1")

    def _reload_on_signal(self) -> None:
        try:
            self.reload()
        except UserInputError as exc:
            log.error("reload refused, keeping the running config: %s", exc)
        except Exception:
            log.exception("reload failed, keeping the running config")

    def stop(self) -> None:
        """Stop within `STOP_BUDGET_S`: end the loop, flush the log, say goodbye."""
        started = time.monotonic()
        self._stop.set()
        notify("STOPPING=1")
        source = self._source
        if source is not None and getattr(source, "live", False):
            try:
                source.close()
            except Exception:
                log.debug("closing the source failed", exc_info=True)
        if self._thread is not None:
            self._thread.join(timeout=3.0)
            if self._thread.is_alive():
                log.warning("daemon: the loop did not stop in 3 s; flushing without it")
        self._finish()  # no-op when the loop already did it
        self.state.set_state("stopped")
        if self.http is not None:
            self.http.stop()
        if self.mqtt is not None:
            left = STOP_BUDGET_S - 0.5 - (time.monotonic() - started)
            self.mqtt.stop(timeout=max(0.1, min(1.0, left)))
        if self.log is not None:
            self.state.record_log(self.log.written, self.log.last_id, self.log.minutes_written)
            self.log.close()
        log.info(
            "daemon: stopped in %.2f s (%d events written)",
            time.monotonic() - started,
            self.state.events_written,
        )

    # -- main thread ----------------------------------------------------------------
    def _check_stall(self) -> None:
        if self.state.state != "running":
            return
        silent = time.monotonic() - self._last_frame
        if silent > self.config.source.stall_timeout_s:
            source = self._source
            log.warning(
                "source %s: no frame for %.1f s; reopening", self.config.source.shown, silent
            )
            self._last_frame = time.monotonic()
            if source is not None and getattr(source, "live", False):
                # Only a threaded live source can be closed under a waiting reader.
                self.state.set_state("reconnecting", f"no frame for {silent:.1f} s")
                try:
                    source.close()  # the loop's iteration ends and it reopens
                except Exception:
                    log.debug("closing a stalled source failed", exc_info=True)

    def run(self, *, install_signals: bool = True) -> int:
        """Start, serve until SIGTERM/SIGINT (or `request_stop`), stop; returns the exit code."""
        install_log_redaction()
        if install_signals:
            signal.signal(signal.SIGTERM, lambda *_: self.request_stop())
            signal.signal(signal.SIGINT, lambda *_: self.request_stop())
            signal.signal(signal.SIGHUP, lambda *_: self.request_reload())
        self.start()
        ping = watchdog_interval()
        next_ping = time.monotonic()
        limit = self.config.source.stall_timeout_s + max(10.0, self.config.source.retry_max_s)
        try:
            while not self._stop.wait(0.2):
                if self._reload_requested.is_set() and not (
                    self._reload_thread is not None and self._reload_thread.is_alive()
                ):
                    # off this thread: it alone pings the watchdog, and loading a new
                    # build (a TensorRT engine) can take longer than WatchdogSec
                    self._reload_requested.clear()
                    self._reload_thread = threading.Thread(
                        target=self._reload_on_signal, name="emoedge-reload", daemon=True
                    )
                    self._reload_thread.start()
                self._check_stall()
                if self.http is not None:
                    self.http.restart_if_dead()
                if ping and time.monotonic() >= next_ping:
                    next_ping = time.monotonic() + ping
                    # Only a loop that shows signs of life keeps systemd's watchdog fed.
                    if time.monotonic() - self.state.heartbeat < limit:
                        notify("WATCHDOG=1")
                    else:
                        log.error(
                            "daemon: the loop has been silent for %.0f s",
                            time.monotonic() - self.state.heartbeat,
                        )
        finally:
            self.stop()
        return 0
