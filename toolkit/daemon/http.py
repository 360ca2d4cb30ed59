"""The daemon's HTTP interface, on the standard library's threading server.

Why not a framework: the device installs nothing extra, and the endpoints are
few. Each connection gets a thread; handlers only read `ServiceState`
snapshots. The daemon runs this server in a child process of lower priority
(`http_process.py`), so its threads never compete with the pipeline for the GIL.

Endpoints (JSON unless noted):
  GET  /healthz              the process and its loop are alive
  GET  /readyz               200 once frames flow, 503 while starting/reconnecting
  GET  /v1/status            model, build, fps, uptime, source state, dropped frames, counters
  GET  /v1/latest            faces in the latest frame (counts only in aggregates mode)
  GET  /v1/events            server-sent events: track changes, minute aggregates, state
  GET  /metrics              Prometheus text
  GET  /v1/preview.mjpeg     annotated MJPEG, only when `http.preview = true`
  POST /v1/reload            re-read the config file (as SIGHUP does)

Budget: the API answers at most `max_requests_per_s` requests a second (the
config's `http.max_requests_per_s`); a request over it waits its turn, and one
that would wait more than `MAX_WAIT_S` gets 429. On a 2-core device, clients
polling flat out otherwise take half the pipeline's CPU, most of it in their own
processes, which no server-side priority can reclaim.

Access: with a token configured every endpoint needs `Authorization: Bearer
<token>` (compared in constant time). The server refuses to start bound beyond
loopback without one.
"""

from __future__ import annotations

import hmac
import json
import logging
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
MAX_WAIT_S = 5.0  # longer than this over the budget: 429, try later
BURST_S = 0.25  # an idle API answers this many seconds' worth of requests at once


class RequestBudget:
    """Requests a second the API may serve: each request reserves the next slot.

    A virtual clock (`_next`) advances 1/rate per request; a request waits until
    its slot. After a quiet spell up to `BURST_S` seconds' worth go at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0.0

    def reserve(self, rate: float, max_wait: float = MAX_WAIT_S) -> float | None:
        """Seconds to wait before serving, or None when that would exceed `max_wait`."""
        if rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now - BURST_S)
            wait = slot - now
            if wait > max_wait:
                return None
            self._next = slot + 1.0 / rate
        return max(0.0, wait)


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
        max_requests_per_s: float = 0.0,
        reload: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.state = state
        self.token = token
        self.aggregates_only = aggregates_only
        self.preview = preview
        self.max_requests_per_s = max_requests_per_s
        self.budget = RequestBudget()
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
        snap["max_requests_per_s"] = self.max_requests_per_s
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
    # Headers and body leave in one write, without Nagle's delay: unbuffered, the
    # body's separate small write waited ~40 ms for the client's delayed ACK.
    # Streams (SSE, MJPEG) flush after each message.
    wbufsize = -1
    disable_nagle_algorithm = True
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

    def _admit(self) -> bool:
        """Wait for this request's slot in the budget; 429 when it is too far off."""
        wait = self.api.budget.reserve(self.api.max_requests_per_s)
        if wait is None:
            self.close_connection = True  # an unread request body must not become the next request
            self._error(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"over the API's budget of {self.api.max_requests_per_s:g} requests/s",
                {"Retry-After": "1", "Connection": "close"},
            )
            return False
        if wait:
            time.sleep(wait)
        return True

    def _guard(self) -> bool:
        if not self._admit():
            return False
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


class DaemonHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never holds the process at exit
    allow_reuse_address = True
    request_queue_size = 128  # 50+ clients connecting at once

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
