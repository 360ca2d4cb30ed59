"""The HTTP server's fixed limits, in a module of their own so the daemon can pass
them to its HTTP child without importing the web stack itself."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Fixed for the life of the server: a reload does not resize it (the bind does not
    change either)."""

    max_connections: int = 64
    max_streams: int = 8
    request_timeout_s: float = 10.0
    keep_alive_s: int = 5
