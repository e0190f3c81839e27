"""The Redis limiter itself, against the real shared Redis under a prefix of its own."""

from __future__ import annotations

import time
import uuid

import pytest
from django.test import override_settings

from topology.runtime import ratelimit as backend
from topology.runtime import state
from topology.runtime.ratelimit import Rate


@pytest.fixture(autouse=True)
def own_prefix():
    prefix = f"fytest-limiter-{uuid.uuid4().hex[:8]}"
    with override_settings(FLOWYARD_REDIS_PREFIX=prefix, FLOWYARD_LIMITER_MARGIN_MS=0):
        yield
    keys = list(state.client().scan_iter(f"{prefix}:*", count=1000))
    if keys:
        state.client().delete(*keys)


def test_admits_up_to_the_amount_then_gives_waiters_the_slots_the_window_allows():
    rate = Rate("1|shop", 2, 1)
    decisions = [backend.acquire([rate], member=f"m{i}", waiter=f"w{i}") for i in range(7)]
    assert [d.admitted for d in decisions] == [True] * 2 + [False] * 5
    slots = [d.slot for d in decisions[2:]]
    assert 900 <= decisions[2].wait_ms <= 1000
    # Two per window: waiters 1-2 wake when the first calls leave the window, 3-4 one window later, and so on.
    assert slots[1] - slots[0] < 50 and 950 <= slots[2] - slots[0] <= 1050 and slots[4] - slots[2] >= 950
    assert backend.usage([("1|shop", 1)])["1|shop"].used == 2
    assert backend.usage([("1|shop", 1)])["1|shop"].waiting == 5


def test_a_returning_waiter_keeps_its_slot_and_an_early_one_waits_for_it():
    rate = Rate("1|shop", 1, 1)
    assert backend.acquire([rate], member="a").admitted
    refused = backend.acquire([rate], member="b", waiter="b")
    again = backend.acquire([rate], member="b2", waiter="b", slot=refused.slot)
    assert not again.admitted and again.slot == refused.slot and again.wait_ms <= refused.wait_ms


def test_every_key_must_pass_and_a_refusal_counts_nowhere():
    tenant, group = Rate("1|shop", 10, 1), Rate("|shop", 2, 1)
    assert backend.acquire([tenant, group], member="a").admitted
    assert backend.acquire([Rate("2|shop", 10, 1), group], member="b").admitted
    refused = backend.acquire([tenant, group], member="c")
    assert not refused.admitted and "|shop" in refused.reason
    assert backend.usage([("1|shop", 1)])["1|shop"].used == 1


def test_a_pause_refuses_every_call_on_the_key_until_it_ends():
    rate = Rate("1|shop", 0, 0)  # no rate configured: pauses still hold
    assert backend.acquire([rate], member="a").admitted
    backend.pause(["1|shop"], 2)
    refused = backend.acquire([rate], member="b")
    assert not refused.admitted and 1900 <= refused.wait_ms <= 2000 and refused.reason.startswith("paused")
    backend.pause(["1|shop"], 0.5)  # a shorter pause does not cut a longer one short
    assert backend.acquire([rate], member="c").wait_ms > 1500


def test_history_counts_admitted_calls_per_second():
    rate = Rate("1|shop", 100, 1)
    for i in range(5):
        backend.acquire([rate], member=f"m{i}")
    xs, series = backend.history(["1|shop"], seconds=10)
    assert len(xs) == 10 and sum(series["1|shop"]) == 5


def test_unreachable_redis_raises_limiter_unavailable():
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"), pytest.raises(backend.LimiterUnavailable):
        backend.acquire([Rate("1|shop", 1, 1)], member="a")


def test_pauses_lists_every_live_pause_with_the_time_left():
    backend.pause(["1|shop", "2|shop"], 2)
    backend.pause(["2|shop"], 0.5)  # shorter: the longer one stays
    backend.pause(["3|shop"], 0.05)
    time.sleep(0.1)
    live = backend.pauses()
    assert set(live) == {"1|shop", "2|shop"}
    assert all(1700 <= left <= 2000 for left in live.values())
