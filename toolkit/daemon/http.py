"""The daemon's HTTP interface, on the standard library's threading server.

Why not a framework: the device installs nothing extra, and the endpoints are
few. Each connection gets a thread; handlers only read `ServiceState`
snapshots, so clients never slow the pipeline beyond the GIL they share.

Endpoints (JSON unless noted):
  GET  /healthz              the process and its loop are alive
  GET  /readyz               200 once frames flow, 503 while starting/reconnecting
  GET  /v1/status            model, build, fps, uptime, source state, dropped frames, counters
  GET  /v1/latest            faces in the latest frame (counts only in aggregates mode)
  GET  /v1/events            server-sent events: track changes, minute aggregates, state
  GET  /metrics              Prometheus text
  GET  /v1/preview.mjpeg     annotated MJPEG, only when `http.preview = true`
  POST /v1/reload            re-read the config file (as SIGHUP does)

Access: with a token configured every endpoint needs `Authorization: Bearer
<token>` (compared in constant time). The server refuses to start bound beyond
loopback without one.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from emoedge.daemon.config import is_loopback
from emoedge.daemon.metrics import CONTENT_TYPE as METRICS_TYPE
from emoedge.daemon.metrics import render_metrics
from emoedge.daemon.state import ServiceState
from emoedge.errors import UserInputError

log = logging.getLogger(__name__)

SSE_HEARTBEAT_S = 10.0
MJPEG_BOUNDARY = "emoedgeframe"


class HttpApi:
    """What the handlers need: the state, the access rules and the reload hook.

    Attributes are read per request, so a reload can change the token or the
    privacy mode of a running server.
    """

    def __init__(
        self,
        state: ServiceState,
        *,
        token: str | None = None,
        aggregates_only: bool = False,
        preview: bool = False,
        reload: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.state = state
        self.token = token
        self.aggregates_only = aggregates_only
        self.preview = preview
        self.reload = reload
        self.closing = threading.Event()  # set at shutdown: streams end

    def authorized(self, header: str | None) -> bool:
        if not self.token:
            return True
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self.token.encode())

    # -- bodies ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        snap = self.state.snapshot()
        build = self.state.build
        snap["model"] = build.model
        snap["build"] = {
            "path": build.path,
            "target": build.target,
            "format": build.format,
            "precision": build.precision,
            "runtime": build.runtime,
            "detector": build.detector,
            "labels": build.labels,
        }
        snap["privacy"] = "aggregates" if self.aggregates_only else "full"
        snap["preview"] = self.preview
        return snap

    def latest(self) -> dict[str, Any]:
        result = self.state.latest_result()
        if result is None:
            return {"frame_index": None, "timestamp": None, "faces": []}
        if self.aggregates_only:
            counts: dict[str, int] = {}
            for face in result.get("faces") or []:
                counts[face.get("label")] = counts.get(face.get("label"), 0) + 1
            return {
                "frame_index": result.get("frame_index"),
                "timestamp": result.get("timestamp"),
                "faces": len(result.get("faces") or []),
                "counts": counts,
            }
        return {k: result.get(k) for k in ("frame_index", "timestamp", "faces", "time")}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a poller reuses its connection
    server_version = "emoedge"
    sys_version = ""
    server: DaemonHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s " + format, self.client_address[0], *args)

    @property
    def api(self) -> HttpApi:
        return self.server.api

    def _path(self) -> str:
        return urlsplit(self.path).path.rstrip("/") or "/"

    def _send(
        self, code: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.api.state.count_request(self._metric_path(), code)

    def _metric_path(self) -> str:
        path = self._path()
        return path if path in ROUTES_GET or path in ROUTES_POST else "other"

    def _json(self, code: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data, separators=(",", ":"), default=_jsonable).encode()
        self._send(code, body, "application/json", headers)

    def _error(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._json(code, {"error": message}, headers)

    def _guard(self) -> bool:
        if self.api.authorized(self.headers.get("Authorization")):
            return True
        # Drain a request body so the connection stays usable.
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 1 << 16:
            self.rfile.read(length)
        self._error(
            HTTPStatus.UNAUTHORIZED,
            "missing or wrong bearer token",
            {"WWW-Authenticate": 'Bearer realm="emoedge"'},
        )
        return False

    def do_GET(self) -> None:
        if not self._guard():
            return
        route = ROUTES_GET.get(self._path())
        if route is None:
            allowed = "POST" if self._path() in ROUTES_POST else None
            if allowed:
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST", {"Allow": allowed})
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {self._path()}")
            return
        route(self)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if not self._guard():
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > 1 << 16:
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request body too large")
            return
        if length:
            self.rfile.read(length)
        route = ROUTES_POST.get(self._path())
        if route is None:
            if self._path() in ROUTES_GET:
                self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use GET", {"Allow": "GET"})
            else:
                self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {self._path()}")
            return
        route(self)

    def _refuse_method(self) -> None:
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not supported")

    do_PUT = do_DELETE = do_PATCH = _refuse_method

    # -- routes ---------------------------------------------------------------------
    def healthz(self) -> None:
        state = self.api.state
        stale = time.monotonic() - state.heartbeat
        if state.state != "stopped" and stale < 60.0:
            self._json(HTTPStatus.OK, {"status": "ok", "state": state.state})
        else:
            self._json(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"status": "unhealthy", "state": state.state, "loop_silent_s": stale},
            )

    def readyz(self) -> None:
        state = self.api.state
        ready = state.state == "running" and state.frames > 0
        self._json(
            HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE,
            {"ready": ready, "state": state.state, "error": state.source_error},
        )

    def status(self) -> None:
        self._json(HTTPStatus.OK, self.api.status())

    def latest(self) -> None:
        self._json(HTTPStatus.OK, self.api.latest())

    def metrics(self) -> None:
        text = render_metrics(self.api.state, aggregates_only=self.api.aggregates_only)
        self._send(HTTPStatus.OK, text.encode(), METRICS_TYPE)

    def reload(self) -> None:
        if self.api.reload is None:
            self._error(HTTPStatus.NOT_IMPLEMENTED, "reload is not available")
            return
        try:
            result = self.api.reload()
        except UserInputError as exc:
            self._error(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc))
            return
        self._json(HTTPStatus.OK, result)

    def _start_stream(self, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.send_header("X-Accel-Buffering", "no")
        self.end_headers()
        self.close_connection = True
        self.api.state.count_request(self._metric_path(), HTTPStatus.OK)

    def events(self) -> None:
        """Server-sent events until the client leaves or the daemon stops."""
        api = self.api
        q = api.state.hub.subscribe()
        try:
            self._start_stream("text/event-stream; charset=utf-8")
            self.wfile.write(b"retry: 2000\n: connected\n\n")
            self.wfile.flush()
            while not api.closing.is_set():
                try:
                    kind, data = q.get(timeout=SSE_HEARTBEAT_S)
                except queue.Empty:
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
                    continue
                if api.aggregates_only and kind == "track":
                    continue  # per-person events stay inside in aggregates mode
                payload = json.dumps(data, separators=(",", ":"), default=_jsonable)
                self.wfile.write(f"event: {kind}\ndata: {payload}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        finally:
            api.state.hub.unsubscribe(q)

    def preview(self) -> None:
        """Annotated MJPEG (multipart/x-mixed-replace); off unless the config turns it on."""
        api = self.api
        if not api.preview or api.aggregates_only:
            self._error(HTTPStatus.NOT_FOUND, "the preview is off (set http.preview = true)")
            return
        import cv2  # only a preview viewer pays for the encoder

        from emoedge.targets.pipeline import annotate

        self._start_stream(f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}")
        last = None
        try:
            while not api.closing.is_set() and api.preview:
                item = api.state.preview(last, timeout=1.0)
                if item is None:
                    continue
                last, image, result = item
                frame = annotate(image, result) if result is not None else image
                ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
                if not ok:
                    continue
                data = jpeg.tobytes()
                self.wfile.write(
                    f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                    + b"\r\n"
                )
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass


ROUTES_GET: dict[str, Callable[[_Handler], None]] = {
    "/healthz": _Handler.healthz,
    "/readyz": _Handler.readyz,
    "/v1/status": _Handler.status,
    "/v1/latest": _Handler.latest,
    "/v1/events": _Handler.events,
    "/metrics": _Handler.metrics,
    "/v1/preview.mjpeg": _Handler.preview,
}
ROUTES_POST: dict[str, Callable[[_Handler], None]] = {"/v1/reload": _Handler.reload}


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays in results become plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


#: Handler threads run at this nice value (Linux: per thread), below the pipeline's,
#: so a crowd of pollers takes the CPU the pipeline leaves, not the CPU it needs.
HANDLER_NICE = 10


def _lower_thread_priority(nice: int) -> None:
    """Raise this thread's nice value (Linux applies setpriority to one thread id)."""
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:
        pass  # not permitted or not supported: run at normal priority


class DaemonHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never holds the process at exit
    allow_reuse_address = True
    request_queue_size = 128  # 50+ clients connecting at once

    def process_request_thread(self, request, client_address) -> None:
        _lower_thread_priority(HANDLER_NICE)
        super().process_request_thread(request, client_address)

    def __init__(self, api: HttpApi, host: str, port: int) -> None:
        if not is_loopback(host) and not api.token:
            raise UserInputError(
                f"refusing to serve HTTP on {host}:{port} without a token: "
                "set http.token (or bind 127.0.0.1)"
            )
        if ":" in host:
            import socket

            self.address_family = socket.AF_INET6
        self.api = api
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            raise UserInputError(f"cannot bind HTTP to {host}:{port} ({exc.strerror})") from exc
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    def start(self) -> DaemonHTTPServer:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="emoedge-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end streams, close the socket (open streams end within ~1 s)."""
        self.api.closing.set()
        self.api.state.hub.publish("shutdown", {"type": "shutdown", "time": time.time()})
        with self.api.state.preview_cond:
            self.api.state.preview_cond.notify_all()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
