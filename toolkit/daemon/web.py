"""The daemon's HTTP interface on FastAPI and uvicorn, with the limits a device on a network needs.

Why these parts: uvicorn serves every connection from one event loop (no thread
per client, so 300 idle sockets cost sockets, not threads), and FastAPI writes
the OpenAPI description (/openapi.json, /docs) from the routes themselves. The
daemon runs this server in a child process of lower priority
(`http_process.py`); what it serves is the `HttpApi` of `http.py`.

Endpoints (JSON unless noted):
  GET  /healthz              the process and its loop are alive
  GET  /readyz               200 once frames flow, 503 while starting/reconnecting
  GET  /v1/status            model, build, fps, uptime, source state, dropped frames, counters
  GET  /v1/latest            faces in the latest frame (counts only in aggregates mode)
  GET  /v1/events            server-sent events: track changes, minute aggregates, state
  GET  /metrics              Prometheus text
  GET  /v1/preview.mjpeg     annotated MJPEG, only when `http.preview = true`
  POST /v1/reload            re-read the config file (as SIGHUP does)
  GET  /v1/aggregates        per-minute aggregates from the event log, paged (`page.py`)
  GET  /                     the device's web page, and its files under /page/ (`page.py`)

Every request passes `Guard` first, in this order, each step cheaper than the next:
  1. Host: loopback names, the address the client connected to, this machine's
     name and `http.allowed_hosts`; anything else is a DNS-rebinding page (421).
  2. Size: the API takes no bodies; more than `MAX_BODY_BYTES` is refused (413).
     A malformed Content-Length (`-1`) never gets this far: h11 answers 400.
  3. Access: with a token, `Authorization: Bearer <token>` (constant time) or 401;
     only the web page's own files are public (they hold no data; see `page.py`).
  4. Cross-origin: a POST without a token must say `Content-Type: application/json`
     (a browser cannot send that cross-origin without a preflight we never grant)
     and any Origin it has must be an allowed host (403 / 415).
  5. Budget: per client address (`max_client_requests_per_s`) and in total
     (`max_requests_per_s`); over it a request waits its turn, or gets 429 when
     that would take more than `MAX_WAIT_S`. Only authenticated requests spend
     it, so strangers cannot push real clients into 429s.
Connections: at most `max_connections` open (more are closed at once), and a
connection must send a whole request head within `request_timeout_s`. Streams
(SSE and MJPEG together) are capped at `max_streams` (503 beyond); MJPEG frames
are encoded once per frame for all viewers (`PreviewEncoder`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import json
import logging
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from prometheus_client import generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response
from uvicorn.protocols.http.h11_impl import H11Protocol

from emoedge.daemon import page
from emoedge.daemon.config import is_loopback
from emoedge.daemon.http import (
    MJPEG_BOUNDARY,
    SSE_HEARTBEAT_S,
    HttpApi,
    RequestBudget,
    _jsonable,
)
from emoedge.daemon.limits import Limits
from emoedge.daemon.metrics import CONTENT_TYPE, metrics_registry
from emoedge.errors import UserInputError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024
STREAM_POLL_S = 0.05  # how often a stream looks for news (events, frames, its client)
WRITE_TIMEOUT_S = 10.0  # a stream whose client stops reading this long is ended
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
ROUTES = ("/healthz", "/readyz", "/v1/status", "/v1/latest", "/v1/events", "/metrics",
          "/v1/preview.mjpeg", "/v1/reload", "/v1/aggregates", "/")  # fmt: skip


# -- pieces ---------------------------------------------------------------------------
class ClientBudgets:
    """A `RequestBudget` per client address, plus the total one; the oldest forgotten past 1024."""

    def __init__(self, remember: int = 1024) -> None:
        self.total = RequestBudget()
        self._clients: collections.OrderedDict[str, RequestBudget] = collections.OrderedDict()
        self._remember = remember

    async def admit(self, client: str, per_client: float, total: float) -> bool:
        """Wait for this client's slot, then for one in the total; False: 429.

        In that order, so a greedy client queues behind itself: the total's slots
        go to requests when they run, not when they arrive.
        """
        budget = self._clients.pop(client, None) or RequestBudget()
        self._clients[client] = budget
        while len(self._clients) > self._remember:
            self._clients.popitem(last=False)
        for limiter, rate in ((budget, per_client), (self.total, total)):
            wait = limiter.reserve(rate)
            if wait is None:
                return False
            if wait:
                await asyncio.sleep(wait)
        return True


class PreviewEncoder:
    """The annotated JPEG of the newest preview frame, encoded once however many watch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[int, bytes] | None = None
        self.encoded = 0  # frames encoded (tests compare it with frames served)

    def jpeg(self, index: int, image: Any, result: Any) -> bytes | None:
        with self._lock:
            if self._cached is not None and self._cached[0] == index:
                return self._cached[1]
            import cv2  # only a preview viewer pays for the encoder

            from emoedge.targets.pipeline import annotate

            frame = annotate(image, result) if result is not None else image
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if not ok:
                return None
            self.encoded += 1
            self._cached = (index, data.tobytes())
            return self._cached[1]


def _host_name(host_header: str) -> str:
    """The name in a Host header, without its port ("[::1]:8080" -> "::1")."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host_header: str | None, server_ip: str | None, allowed: frozenset[str]) -> bool:
    """Loopback names, the IP the client connected to, this machine's names, `allowed`.

    DNS rebinding needs a name the attacker controls resolving to us; an IP
    literal equal to our own address, or a name we chose, is not that.
    """
    if not host_header:
        return False
    name = _host_name(host_header)
    if "*" in allowed or name in LOOPBACK_NAMES or name in allowed:
        return True
    if server_ip is not None and name == server_ip.lower():
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(name).is_loopback
    machine = socket.gethostname().lower()
    return name in (machine, f"{machine}.local")


def _respond(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, separators=(",", ":"), default=_jsonable)
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


class Guard:
    """The ASGI middleware that runs the checks of the module docstring, in order."""

    def __init__(self, app: Any, api: HttpApi, budgets: ClientBudgets) -> None:
        self.app = app
        self.api = api
        self.budgets = budgets

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = self.api
        headers = Headers(scope=scope)
        path = scope["path"].rstrip("/") or "/"
        label = path if path in ROUTES else "other"
        client = (scope.get("client") or ("?", 0))[0]
        server = scope.get("server") or (None, 0)
        problem = self._refusal(scope, headers, client, server[0])
        if problem is not None:
            response = _respond(*problem)
            api.state.count_request(label, response.status_code)
            await response(scope, receive, send)
            return
        wait = await self.budgets.admit(
            client, api.max_client_requests_per_s, api.max_requests_per_s
        )
        if not wait:
            response = _respond(
                429,
                {"error": "over the API's request budget; try again in a second"},
                {"Retry-After": "1"},
            )
            api.state.count_request(label, 429)
            await response(scope, receive, send)
            return

        async def counted(message: dict) -> None:
            if message["type"] == "http.response.start":
                api.state.count_request(label, message["status"])
            await send(message)

        await self.app(scope, receive, counted)

    def _refusal(
        self, scope: dict, headers: Any, client: str, server_ip: str | None
    ) -> tuple[int, dict[str, str], dict[str, str]] | None:
        """(status, body, headers) of the first check that fails, or None."""
        api = self.api
        allowed = frozenset(h.lower() for h in api.allowed_hosts)
        if not host_allowed(headers.get("host"), server_ip, allowed):
            return 421, {"error": "this Host is not served here (see http.allowed_hosts)"}, {}
        length = headers.get("content-length")
        if (length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES)) or (
            "chunked" in headers.get("transfer-encoding", "").lower()
        ):
            return (
                413,
                {"error": f"request bodies are limited to {MAX_BODY_BYTES} bytes"},
                {"Connection": "close"},
            )
        if not api.authorized(headers.get("authorization")) and not page.is_public(scope["path"]):
            return (
                401,
                {"error": "missing or wrong bearer token"},
                {"WWW-Authenticate": 'Bearer realm="emoedge"'},
            )
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and not api.token:
            content_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return 415, {"error": "send Content-Type: application/json"}, {}
            origin = headers.get("origin")
            if origin is not None:
                host = origin.split("://", 1)[-1]
                if not host_allowed(host, server_ip, allowed):
                    return 403, {"error": f"cross-origin request from {origin} refused"}, {}
        return None


class StreamSlots:
    """Counts open SSE and MJPEG streams against `Limits.max_streams`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0

    @contextlib.contextmanager
    def take(self):
        if self.open >= self.limit:
            yield False
            return
        self.open += 1
        try:
            yield True
        finally:
            self.open -= 1


class Stream:
    """A streaming ASGI response that ends quietly when its client leaves.

    Starlette's StreamingResponse raises on a client gone mid-write; here that is
    routine (a closed browser tab): one debug line, no traceback.
    """

    def __init__(
        self,
        chunks: Callable[[asyncio.Event], AsyncIterator[bytes]],
        media_type: str,
        what: str,
        client: str,
    ) -> None:
        self.chunks, self.media_type, self.what, self.client = chunks, media_type, what, client

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", self.media_type.encode()),
                    (b"cache-control", b"no-store"),
                    (b"x-accel-buffering", b"no"),
                    (b"connection", b"close"),
                ],
            }
        )
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        ended = "disconnected"
        try:
            async for chunk in self.chunks(gone):
                if gone.is_set():
                    break
                await asyncio.wait_for(
                    send({"type": "http.response.body", "body": chunk, "more_body": True}),
                    WRITE_TIMEOUT_S,
                )
            if not gone.is_set():  # the server is closing: end the response properly
                ended = ""
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:
            ended = f"stopped reading for {WRITE_TIMEOUT_S:.0f} s; closed"
        except OSError:  # uvicorn's ClientDisconnected
            pass
        finally:
            watcher.cancel()
        if ended:
            log.debug("%s client %s %s", self.what, self.client, ended)


def create_app(api: HttpApi, limits: Limits = Limits(), budgets: ClientBudgets | None = None):
    """The FastAPI application, wrapped in `Guard`."""
    app = FastAPI(
        title="emoedge daemon",
        summary="Facial emotion recognition on this device: status, faces, events, metrics.",
        version="1",
    )
    slots = StreamSlots(limits.max_streams)
    encoder = PreviewEncoder()
    app.state.encoder = encoder
    registry = metrics_registry(api)

    @app.get("/healthz", summary="The process and its loop are alive")
    def healthz() -> Response:
        snap = api.state.snapshot()
        stale = time.monotonic() - snap.heartbeat
        if snap.state != "stopped" and stale < 60.0:
            return _respond(200, {"status": "ok", "state": snap.state})
        return _respond(503, {"status": "unhealthy", "state": snap.state, "loop_silent_s": stale})

    @app.get("/readyz", summary="200 once frames flow, 503 while starting or reconnecting")
    def readyz() -> Response:
        snap = api.state.snapshot()
        ready = snap.state == "running" and snap.frames > 0
        return _respond(
            200 if ready else 503,
            {"ready": ready, "state": snap.state, "error": snap.source.error},
        )

    @app.get("/v1/status", summary="Model, build, frame rate, source state and counters")
    def status() -> Response:
        return _respond(200, api.status())

    @app.get("/v1/latest", summary="The faces in the latest frame (counts only in aggregates mode)")
    def latest() -> Response:
        return _respond(200, api.latest())

    @app.get("/metrics", summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(
            generate_latest(registry),
            media_type=CONTENT_TYPE,
            headers={"Cache-Control": "no-store"},
        )

    @app.post("/v1/reload", summary="Re-read the config file, as SIGHUP does")
    async def reload() -> Response:
        if api.reload is None:
            return _respond(501, {"error": "reload is not available"})
        try:
            result = await run_in_threadpool(api.reload)
        except UserInputError as exc:
            return _respond(422, {"error": str(exc)})
        return _respond(200, result)

    @app.get("/v1/events", summary="Server-sent events: track changes, minute aggregates, state")
    async def events(request: Request) -> Any:
        return _SlotStream(slots, Stream(
            lambda gone: _sse(api, gone), "text/event-stream; charset=utf-8", "SSE", _peer(request)
        ))  # fmt: skip

    @app.get("/v1/preview.mjpeg", summary="Annotated MJPEG, when http.preview is on")
    async def preview(request: Request) -> Any:
        if not api.preview or api.aggregates_only:
            return _respond(404, {"error": "the preview is off (set http.preview = true)"})
        return _SlotStream(slots, Stream(
            lambda gone: _mjpeg(api, encoder, gone),
            f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}", "MJPEG", _peer(request),
        ))  # fmt: skip

    page.install(app, api)
    return Guard(app, api, budgets or ClientBudgets())


class _SlotStream(Response):
    """Holds a stream slot for as long as the stream runs (a `Response`, so FastAPI
    passes it through as it is)."""

    def __init__(self, slots: StreamSlots, stream: Stream) -> None:
        self.slots, self.stream = slots, stream
        self.status_code, self.raw_headers, self.background = 200, [], None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        with self.slots.take() as ok:
            if not ok:
                busy = _respond(
                    503,
                    {"error": f"at most {self.slots.limit} streams at once; try again later"},
                    {"Retry-After": "5"},
                )
                await busy(scope, receive, send)
                return
            await self.stream(scope, receive, send)


def _peer(request: Any) -> str:
    client = request.client
    return f"{client.host}:{client.port}" if client else "?"


async def _sse(api: HttpApi, gone: asyncio.Event) -> AsyncIterator[bytes]:
    """Hub events as SSE; a comment every `SSE_HEARTBEAT_S` keeps proxies from timing out."""
    hub = api.state.hub
    q = hub.subscribe()
    try:
        yield b"retry: 2000\n: connected\n\n"
        quiet_since = time.monotonic()
        while not gone.is_set() and not api.closing.is_set():
            try:
                kind, data = q.get_nowait()
            except queue.Empty:
                if time.monotonic() - quiet_since > SSE_HEARTBEAT_S:
                    quiet_since = time.monotonic()
                    yield b": keepalive\n\n"
                await asyncio.sleep(STREAM_POLL_S)
                continue
            if api.aggregates_only and kind == "track":
                continue  # per-person events stay inside in aggregates mode
            payload = json.dumps(data, separators=(",", ":"), default=_jsonable)
            quiet_since = time.monotonic()
            yield f"event: {kind}\ndata: {payload}\n\n".encode()
    finally:
        hub.unsubscribe(q)


async def _mjpeg(
    api: HttpApi, encoder: PreviewEncoder, gone: asyncio.Event
) -> AsyncIterator[bytes]:
    last = None
    while not gone.is_set() and not api.closing.is_set() and api.preview:
        item = api.state.preview(last, timeout=0.0)
        if item is None:
            await asyncio.sleep(STREAM_POLL_S)
            continue
        last = item[0]
        data = await asyncio.to_thread(encoder.jpeg, *item)
        if data is None:
            continue
        head = (
            f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        yield head.encode() + data + b"\r\n"


# -- the server -----------------------------------------------------------------------
def _protocol(limits: Limits):
    """uvicorn's h11 protocol plus what it leaves out: a cap on open connections, and a
    deadline for each request's head (uvicorn waits forever for one that never ends)."""

    class GuardedH11(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                log.debug(
                    "http: %d connections open; refusing %s",
                    limits.max_connections - 1,
                    self.client,
                )
                transport.abort()
                return
            self._arm()

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(limits.request_timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _expired(self) -> None:
            self._head_timer = None
            if self._between_requests() and not self.transport.is_closing():
                log.debug(
                    "http: %s sent no complete request in %.0f s; closed",
                    self.client,
                    limits.request_timeout_s,
                )
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            if self._between_requests():
                self._arm()
            super().data_received(data)
            if not self._between_requests():
                self._disarm()  # a whole head arrived: the request runs

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11


class WebServer:
    """uvicorn serving `create_app(api)` from a thread of its own; start() returns once bound."""

    def __init__(
        self,
        api: HttpApi,
        host: str,
        port: int,
        limits: Limits = Limits(),
        *,
        tls_cert: str | None = None,
        tls_key: str | None = None,
    ) -> None:
        if not is_loopback(host) and not api.token:
            raise UserInputError(
                f"refusing to serve HTTP on {host}:{port} without a token: "
                "set http.token (or bind 127.0.0.1)"
            )
        self.api = api
        self.limits = limits
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise UserInputError(f"cannot bind HTTP to {host}:{port} ({exc.strerror})") from exc
        self._sock.listen(128)
        self.app = create_app(api, limits)
        config = uvicorn.Config(
            self.app,
            http=_protocol(limits),
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_keep_alive=limits.keep_alive_s,
            timeout_graceful_shutdown=1,
            ssl_certfile=tls_cert,
            ssl_keyfile=tls_key,
        )
        try:
            config.load()  # reads the TLS files: a bad one is the user's mistake, said at start
        except (OSError, ValueError) as exc:
            self._sock.close()
            raise UserInputError(f"HTTP TLS: cannot use {tls_cert} / {tls_key} ({exc})") from exc
        self._server = uvicorn.Server(config)
        # One line per request would fill a device's journal; errors still show.
        logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def start(self) -> WebServer:
        started = threading.Event()

        def serve() -> None:
            async def main() -> None:
                task = asyncio.ensure_future(self._server.serve(sockets=[self._sock]))
                while not self._server.started and not task.done():
                    await asyncio.sleep(0.01)
                started.set()
                await task

            asyncio.run(main())

        self._thread = threading.Thread(target=serve, name="emoedge-http", daemon=True)
        self._thread.start()
        if not started.wait(10.0):
            raise UserInputError("the HTTP server did not start in 10 s")
        return self

    def stop(self) -> None:
        """End streams, stop accepting, close (open streams end within a poll)."""
        self.api.closing.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=3.0)
        with contextlib.suppress(OSError):
            self._sock.close()
