"""The HTTP interface in a process of its own, at a lower CPU priority.

Why a process: on a 2-core machine, 50 clients polling the daemon's threaded
HTTP server cut the pipeline to 0.55 of its idle frame rate
(benchmarks/results/daemon_load_2026-11-27_inprocess.md). Handler threads share
the GIL with the pipeline thread, so a higher nice value on them does not help:
the pipeline waits for a GIL that a descheduled handler holds. In a child process
at nice +`HTTP_NICE` the kernel arbitrates instead. That alone does not hold the
frame rate against clients on the same machine (their own CPU is not ours to
lower): the request budget in `http.py` does, 0.87-0.96 with both
(benchmarks/results/daemon_load_2026-11-27.md).

The child serves the same `HttpApi` from a `ServedState`: the daemon's latest
`Snapshot` (one typed value, `state.py`), refreshed `PUBLISH_HZ` times a
second, plus every hub event as it happens. `POST /v1/reload` travels back to
the daemon and its answer returns. The child ignores the signals meant for the daemon and ends when the
daemon says so or when its pipe closes, and on Linux the kernel kills it with
the daemon (PR_SET_PDEATHSIG: when the thread that started it ends, so the
daemon starts it from its main thread), so even a daemon killed with -9 leaves
no server behind, not even for a moment.

Messages (tuples over a socket pair, pickled by `multiprocessing.connection`):
  daemon -> child  ("init", options and first snapshot) ("state", Snapshot)
                   ("event", kind, data) ("config", settings)
                   ("preview", index, image, frame_result), only with the preview on
                   ("reload_result", id, ok, payload) ("stop",)
  child -> daemon  ("ready", port) ("error", message) ("reload", id)
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from multiprocessing.connection import Connection
from typing import Any

from emoedge.daemon.backoff import Backoff
from emoedge.daemon.http import ApiSettings
from emoedge.daemon.limits import Limits
from emoedge.daemon.redact import install_log_redaction
from emoedge.daemon.state import Served, ServiceState, Snapshot
from emoedge.errors import EmoedgeError, UserInputError

log = logging.getLogger(__name__)

#: The child's nice value: under contention the kernel gives the pipeline (nice 0)
#: about nine times the CPU of the HTTP server.
HTTP_NICE = 10
#: How often the daemon refreshes the child's copy of its state (events go at once).
PUBLISH_HZ = 50.0
#: The preview is sent at most this often (only when it is on).
PREVIEW_HZ = 15.0
START_TIMEOUT_S = 30.0
RELOAD_TIMEOUT_S = 120.0  # a reload may load a new build


def _api_settings(settings: ApiSettings) -> dict[str, Any]:
    """The `HttpApi` keyword arguments the child is started with and reconfigured to."""
    return {**asdict(settings), "allowed_hosts": tuple(settings.allowed_hosts)}


class ServedState(Served):
    """The child's state: the daemon's latest snapshot, with the child's own SSE clients."""

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self._snapshot = snapshot

    def apply(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot  # one reference: readers see the old value or the new

    def snapshot(self) -> Snapshot:
        return replace(self._snapshot, sse_clients=self.hub.listeners)

    def latest_result(self) -> dict[str, Any] | None:
        return self._snapshot.latest


class HttpProcess:
    """The daemon's handle on its HTTP child: start, keep fed, reconfigure, stop."""

    def __init__(
        self,
        state: ServiceState,
        host: str,
        port: int,
        *,
        settings: ApiSettings = ApiSettings(),
        limits: Limits = Limits(),
        tls: tuple[str, str] | None = None,
        reload: Callable[[], dict[str, Any]] | None = None,
        nice: int = HTTP_NICE,
        event_log: str | None = None,
    ) -> None:
        self.state = state
        self.host = host
        self.port = port  # 0 until the child binds; a restarted child binds the same one
        self.limits = limits
        self.tls = tls  # (certificate, key) files: HTTPS
        self.settings = _api_settings(settings)
        self.reload = reload
        self.nice = nice
        self.event_log = event_log  # the child reads it for /v1/aggregates (fixed until restart)
        self._conn: Any = None
        self._process: Any = None
        self._send_lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._events: queue.Queue | None = None
        self._restart_backoff = Backoff(1.0, 60.0)
        self._next_restart = 0.0

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> HttpProcess:
        """Spawn the child and wait until it listens; bind errors raise `UserInputError`."""
        self._stopping.clear()
        ours, theirs = socket.socketpair()
        # A fresh interpreter on `-m`, not multiprocessing's spawn: that would import
        # the daemon's __main__ again in the child (and fail on `python -c` or stdin).
        process = subprocess.Popen(
            [sys.executable, "-m", "emoedge.daemon.http_process", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
        )
        theirs.close()
        conn = Connection(ours.detach())
        try:
            conn.send(
                (
                    "init",
                    {
                        "host": self.host,
                        "port": self.port,
                        "settings": dict(self.settings),
                        "limits": asdict(self.limits),
                        "tls": self.tls,
                        "nice": self.nice,
                        "event_log": self.event_log,
                        "parent": os.getpid(),
                        "log_level": logging.getLogger("emoedge").getEffectiveLevel(),
                        "state": self.state.snapshot(),  # served from the first request
                    },
                )
            )
            if not conn.poll(START_TIMEOUT_S):
                raise EmoedgeError(f"the HTTP process did not start in {START_TIMEOUT_S:.0f} s")
            kind, *payload = conn.recv()
        except (EOFError, OSError) as exc:
            conn.close()
            code = _wait(process, 2.0)
            raise EmoedgeError(f"the HTTP process failed to start (exit {code})") from exc
        except EmoedgeError:
            conn.close()
            process.kill()
            raise
        if kind == "error":
            conn.close()
            _wait(process, 2.0)
            raise UserInputError(payload[0])
        self.port = payload[0]
        self._conn, self._process = conn, process
        self._events = self.state.hub.subscribe(maxsize=4096)
        self._threads = [
            threading.Thread(target=self._publish, name="emoedge-http-feed", daemon=True),
            threading.Thread(target=self._receive, name="emoedge-http-recv", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.debug("HTTP process %d listening on %s:%d", process.pid, self.host, self.port)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def restart_if_dead(self) -> bool:
        """Start a new child when the old one died (not when it was stopped); True if so.

        Called often by the daemon's main loop; failed starts back off (1 s doubling
        to 60 s) so a port taken by someone else does not spin.
        """
        if self._stopping.is_set() or self._process is None or self.alive():
            return False
        if time.monotonic() < self._next_restart:
            return False
        log.error("the HTTP process exited (code %s); starting it again", self._process.returncode)
        self._cleanup()
        try:
            self.start()
        except EmoedgeError as exc:
            delay = self._restart_backoff.next()
            self._next_restart = time.monotonic() + delay
            log.error("the HTTP process did not come back (%s); next try in %.0f s", exc, delay)
            return False
        self._restart_backoff.reset()
        return True

    def configure(self, settings: ApiSettings) -> None:
        """Apply reloaded access, privacy and budget settings in the running child.

        The current state goes first, so the child never serves the new settings
        beside a state from before the change (e.g. a reload count not yet raised).
        """
        self.settings = _api_settings(settings)
        self._send(("config", dict(self.settings)), state_first=True)

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the child to end its streams and exit; kill it when it does not."""
        self._stopping.set()
        if self._process is None:
            return
        # Sent from a thread: a child that stopped reading must not block the stop
        # (killing it below breaks the pipe and ends the send).
        threading.Thread(target=self._goodbye, name="emoedge-http-stop", daemon=True).start()
        if _wait(self._process, timeout) is None:
            log.warning("the HTTP process did not stop in %.1f s; killing it", timeout)
            self._process.kill()
            _wait(self._process, 1.0)
        self._cleanup()

    def _goodbye(self) -> None:
        self._send(("stop",), state_first=True)  # the final state: "stopped"

    def _cleanup(self) -> None:
        if self._events is not None:
            self.state.hub.unsubscribe(self._events)
            self._events = None
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(1.0)
        self._threads = []

    # -- daemon side threads --------------------------------------------------------
    def _send(self, *messages: tuple, state_first: bool = False) -> bool:
        """Send in order; `state_first` puts a fresh state before them.

        The state is exported under the send lock, so a snapshot taken earlier by
        another thread can never arrive after it and undo it in the child.
        """
        conn = self._conn
        if conn is None:
            return False
        try:
            with self._send_lock:
                if state_first:
                    conn.send(("state", self.state.snapshot()))
                for message in messages:
                    conn.send(message)
            return True
        except (OSError, ValueError, EOFError):
            return False  # the child is gone; restart_if_dead() notices

    def _publish(self) -> None:
        """Events at once; the state every 1/PUBLISH_HZ s; preview frames when on."""
        period = 1.0 / PUBLISH_HZ
        events = self._events
        next_state = time.monotonic() + period
        last_preview: int | None = None
        next_preview = 0.0
        while not self._stopping.is_set() and events is not None:
            try:
                kind, data = events.get(timeout=max(0.0, next_state - time.monotonic()))
            except queue.Empty:
                pass
            else:
                if not self._send(("event", kind, data)):
                    return
                if time.monotonic() < next_state:
                    continue  # a burst of events never starves the state refresh
            next_state = time.monotonic() + period
            if not self._send(state_first=True):
                return
            if self.settings["preview"] and time.monotonic() >= next_preview:
                item = self.state.preview(last_preview, timeout=0.0)
                if item is not None:
                    last_preview = item[0]
                    next_preview = time.monotonic() + 1.0 / PREVIEW_HZ
                    if not self._send(("preview", *item)):
                        return

    def _receive(self) -> None:
        conn = self._conn
        while not self._stopping.is_set():
            try:
                kind, *payload = conn.recv()
            except (EOFError, OSError):
                return
            if kind == "reload":
                threading.Thread(
                    target=self._answer_reload, args=(payload[0],), daemon=True
                ).start()

    def _answer_reload(self, request_id: int) -> None:
        if self.reload is None:
            self._send(("reload_result", request_id, False, "reload is not available"))
            return
        try:
            result = self.reload()
        except UserInputError as exc:
            self._send(("reload_result", request_id, False, str(exc)))
            return
        except Exception as exc:  # never leave the child waiting
            log.exception("reload requested over HTTP failed")
            self._send(("reload_result", request_id, False, f"{type(exc).__name__}: {exc}"))
            return
        self._send(("reload_result", request_id, True, result))


def _wait(process: subprocess.Popen, timeout: float) -> int | None:
    """The exit code, or None while it still runs after `timeout`."""
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


# -- the child ----------------------------------------------------------------------
class _ReloadProxy:
    """`HttpApi.reload` in the child: ask the daemon, wait for its answer."""

    def __init__(self, conn: Any, send_lock: threading.Lock) -> None:
        self._conn = conn
        self._send_lock = send_lock
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: dict[int, list] = {}

    def __call__(self) -> dict[str, Any]:
        request_id = next(self._ids)
        slot: list = [threading.Event(), None, None]
        with self._lock:
            self._pending[request_id] = slot
        try:
            with self._send_lock:
                self._conn.send(("reload", request_id))
            if not slot[0].wait(RELOAD_TIMEOUT_S):
                raise UserInputError(
                    f"the daemon did not answer the reload in {RELOAD_TIMEOUT_S:.0f} s"
                )
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
        if not slot[1]:
            raise UserInputError(str(slot[2]))
        return slot[2]

    def answer(self, request_id: int, ok: bool, payload: Any) -> None:
        with self._lock:
            slot = self._pending.get(request_id)
        if slot is not None:
            slot[1], slot[2] = ok, payload
            slot[0].set()


def _die_with_parent(parent: int) -> None:
    """Have Linux kill this process the moment the daemon dies (PR_SET_PDEATHSIG).

    Noticing the closed pipe takes this low-priority process a while on a busy
    CPU, and until then it would answer with the dead daemon's last state on the
    port a restarted daemon wants; a killed process closes its sockets at once.
    """
    import ctypes

    PR_SET_PDEATHSIG = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the line above
        os._exit(0)


def serve_in_child(conn: Connection) -> None:
    """The child's main: serve `HttpApi` from a mirrored state until told to stop."""

    # The daemon handles signals and tells the child; a service manager's SIGTERM
    # to the whole group must not end the server before the daemon's final state.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    kind, options = conn.recv()
    assert kind == "init", kind
    _die_with_parent(options["parent"])
    try:
        from emoedge.daemon.http import HttpApi
        from emoedge.daemon.web import WebServer
    except ImportError as exc:  # FastAPI or uvicorn missing: a clear message, not a traceback
        conn.send(("error", f"HTTP needs {exc.name}: pip install 'emoedge[daemon]'"))
        return
    logging.basicConfig(level=options["log_level"], format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    with contextlib.suppress(OSError):
        os.nice(options["nice"])
    state = ServedState(options["state"])
    send_lock = threading.Lock()
    reload = _ReloadProxy(conn, send_lock)
    api = HttpApi(state, reload=reload, event_log=options["event_log"], **options["settings"])
    try:
        cert, key = options["tls"] or (None, None)
        server = WebServer(
            api,
            options["host"],
            options["port"],
            Limits(**options["limits"]),
            tls_cert=cert,
            tls_key=key,
        ).start()
    except UserInputError as exc:
        conn.send(("error", str(exc)))
        return
    with send_lock:
        conn.send(("ready", server.port))
    try:
        while True:
            try:
                kind, *payload = conn.recv()
            except (EOFError, OSError):
                break  # the daemon is gone
            if kind == "state":
                state.apply(payload[0])
            elif kind == "event":
                state.hub.publish(payload[0], payload[1])
            elif kind == "config":
                for name, value in payload[0].items():
                    setattr(api, name, value)
            elif kind == "preview":
                state.set_preview(*payload)
            elif kind == "reload_result":
                reload.answer(*payload)
            elif kind == "stop":
                break
    finally:
        server.stop()


if __name__ == "__main__":
    serve_in_child(Connection(int(sys.argv[1])))
