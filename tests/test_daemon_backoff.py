"""The daemon's one backoff, as the source loop and the HTTP child's restarts use it."""

from __future__ import annotations

from emoedge.daemon.backoff import Backoff


def test_the_delay_doubles_to_its_cap_and_starts_over_after_a_success():
    backoff = Backoff(0.2, 1.0)
    assert [backoff.next() for _ in range(6)] == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    backoff.reset()
    assert backoff.next() == 0.2
    # the HTTP child's restarts: 1 s doubling to 60 s
    restarts = Backoff(1.0, 60.0)
    assert [restarts.next() for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_limits_a_reload_changes_apply_to_the_next_delay():
    backoff = Backoff(0.5, 30.0)
    assert [backoff.next() for _ in range(3)] == [0.5, 1.0, 2.0]
    backoff.max_s = 3.0
    assert backoff.next() == 3.0
    backoff.initial_s, backoff.max_s = 1.0, 100.0
    assert backoff.next() == 8.0  # three doublings so far, now from the new start
