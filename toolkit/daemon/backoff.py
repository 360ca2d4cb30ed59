"""The daemon's one exponential backoff: the source loop's reconnects and the HTTP
child's restarts wait by it, so both double and cap the same way."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Backoff:
    """The delay before each retry: `initial_s` first, doubling on every failure up
    to `max_s`; `reset()` after a success starts over.

    The delay is worked out when asked for, from the limits as they are then, so
    the source loop can hand it limits a config reload changed."""

    initial_s: float
    max_s: float
    _failures: int = field(default=0, init=False, repr=False)

    def next(self) -> float:
        """The delay to wait now; the one after it doubles (up to `max_s`)."""
        delay = min(self.initial_s * 2.0**self._failures, self.max_s)
        if delay < self.max_s:  # at the cap the count stops, so it cannot overflow
            self._failures += 1
        return delay

    def reset(self) -> None:
        self._failures = 0
