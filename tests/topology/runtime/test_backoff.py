"""Reconnect and state-retry delays: grow, cap, jitter within bounds, reset after success."""

from __future__ import annotations

import pytest

from topology.runtime.backoff import Backoff, backoff_seconds


def test_backoff_doubles_then_caps():
    assert [backoff_seconds(a, base=0.5, cap=10, rand=1.0) for a in range(7)] == [0.5, 1, 2, 4, 8, 10, 10]


@pytest.mark.parametrize("rand", [0.0, 0.3, 1.0, -2.0, 7.0])
def test_jitter_stays_between_half_and_full_delay(rand):
    delay = backoff_seconds(3, base=1, cap=100, rand=rand)
    assert 4 <= delay <= 8


def test_huge_attempt_numbers_do_not_overflow():
    assert backoff_seconds(10_000, base=1, cap=30, rand=1.0) == 30
    assert backoff_seconds(-1, base=1, cap=30, rand=1.0) == 1


def test_backoff_resets_after_success():
    backoff = Backoff(base=1, cap=10, rand=lambda: 1.0)
    assert [backoff.next() for _ in range(5)] == [1, 2, 4, 8, 10]
    backoff.reset()
    assert backoff.next() == 1
