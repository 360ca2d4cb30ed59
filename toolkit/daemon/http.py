"""What the daemon's HTTP interface serves, apart from how: the bodies, the access rule, the budget.

`web.py` serves this `HttpApi` over FastAPI and uvicorn, in a child process of
lower priority (`http_process.py`). Attributes are read per request, so a reload
can change the token, the privacy mode or the budget of a running server.

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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emoedge.daemon.state import Served

SSE_HEARTBEAT_S = 10.0
MJPEG_BOUNDARY = "emoedgeframe"
MAX_WAIT_S = 5.0  # longer than this over the budget: 429, try later
BURST_S = 0.25  # an idle API answers this many seconds' worth of requests at once


@dataclass(frozen=True)
class ApiSettings:
    """The `HttpApi` keywords a reload may change in a running server, as one value:
    the daemon hands them to its HTTP child at start and at each reload."""

    token: str | None = None
    aggregates_only: bool = False
    preview: bool = False
    max_requests_per_s: float = 0.0
    max_client_requests_per_s: float = 0.0
    allowed_hosts: tuple[str, ...] = ()


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
        state: Served,
        *,
        token: str | None = None,
        aggregates_only: bool = False,
        preview: bool = False,
        max_requests_per_s: float = 0.0,
        max_client_requests_per_s: float = 0.0,
        allowed_hosts: tuple[str, ...] = (),
        reload: Callable[[], dict[str, Any]] | None = None,
        event_log: str | None = None,
    ) -> None:
        self.state = state
        self.token = token
        self.aggregates_only = aggregates_only
        self.preview = preview
        self.max_requests_per_s = max_requests_per_s
        self.max_client_requests_per_s = max_client_requests_per_s  # 0 = only the total
        self.allowed_hosts = allowed_hosts  # Host names served besides loopback and our own
        self.budget = RequestBudget()
        self.reload = reload
        self.event_log = event_log  # the SQLite file /v1/aggregates reads (read-only)
        self.closing = threading.Event()  # set at shutdown: streams end

    def authorized(self, header: str | None) -> bool:
        if not self.token:
            return True
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self.token.encode())

    # -- bodies ---------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        body = self.state.snapshot().status()
        body["privacy"] = "aggregates" if self.aggregates_only else "full"
        body["preview"] = self.preview
        body["max_requests_per_s"] = self.max_requests_per_s
        return body

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
        keys = ("frame_index", "timestamp", "faces", "time", "frame_size")
        return {k: result.get(k) for k in keys}


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays in results become plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)
