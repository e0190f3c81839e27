"""Limiter pauses kept in the engine's memory: an unlimited node asks Redis nothing, a known pause holds it."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from django.test import override_settings

from tests.topology.runtime.harness import RuntimeEnv
from topology.runtime import broker, limits, names, state
from topology.runtime import ratelimit as backend
from topology.runtime.errors import RetryableError
from topology.runtime.executor import Outcome, Run
from topology.runtime.results import LIMIT_WAIT
from topology.runtime.spec import NodeSpec, RuntimeSpec, VersionSpec

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def own_prefix_and_book(monkeypatch):
    prefix = f"fytest-pauses-{uuid.uuid4().hex[:8]}"
    book = limits.PauseBook()
    book.watched = True  # as in an engine, whose watcher keeps the book in step with Redis
    monkeypatch.setattr(limits, "book", book)
    with override_settings(FLOWYARD_REDIS_PREFIX=prefix, FLOWYARD_LIMITER_MARGIN_MS=0):
        yield book
    keys = list(state.client().scan_iter(f"{prefix}:*", count=1000))
    if keys:
        state.client().delete(*keys)


def run_of(limit: backend.Rate | None = None) -> Run:
    version = VersionSpec(id=1, number=1, topology_id=1, topology_name="t", tenant_id=7, enabled=True)
    node = NodeSpec(id=1, key="call", kind="connector", config={}, version=version, application="shop")
    version.nodes["call"] = node
    runtime = RuntimeSpec(versions={1: version}, limits={limit.key: limit} if limit else {})
    return Run(runtime, node, {"correlation-id": "c1", "process-id": "p1"}, b"{}", "m1")


def test_a_node_without_a_limit_runs_without_asking_redis():
    with override_settings(REDIS_URL=DEAD_REDIS):
        assert limits.before_call(run_of(), Outcome()) is None


def test_a_limited_node_still_asks_redis_and_holds_when_it_is_down():
    with override_settings(REDIS_URL=DEAD_REDIS):
        outcome = limits.before_call(run_of(backend.Rate("7|shop", 5, 1)), Outcome())
    assert outcome is not None and outcome.limiter_down and outcome.code == LIMIT_WAIT


def test_audit_times_the_hook_per_side_and_a_node_without_keys_not_at_all():
    with override_settings(FLOWYARD_LIMITER_AUDIT=True):
        assert limits.before_call(run_of(backend.Rate("7|shop", 1000, 1)), Outcome()) is None
        assert limits.before_call(run_of(), Outcome()) is None
        assert limits.before_call(run_of(), Outcome()) is None
        keyless = run_of()
        keyless.node.application = ""
        assert limits.before_call(keyless, Outcome()) is None
    limited, unlimited = backend.hook_log(True), backend.hook_log(False)
    assert len(limited) == 1 and len(unlimited) == 2
    # Milliseconds: one Redis round trip on the limited side, a dictionary lookup on the other.
    assert 0 < limited[0] < 1000 and all(0 <= ms < 50 for ms in unlimited)


def test_a_known_pause_holds_an_unlimited_node_without_redis(own_prefix_and_book):
    own_prefix_and_book.note("7|shop", 3000)
    with override_settings(REDIS_URL=DEAD_REDIS):
        outcome = limits.before_call(run_of(), Outcome())
    assert outcome is not None and outcome.code == LIMIT_WAIT and not outcome.limiter_down
    assert "paused 7|shop" in outcome.message
    # Back to its own queue through a delay tier (no sleeping thread), which the pause outlasts.
    (out,) = outcome.outputs
    tiers = {names.delay_exchange(ms) for ms in names.delay_tiers()}
    assert out.exchange in tiers and out.routing_key == run_of().node.base_queue


def test_a_pause_notice_reaches_the_book_and_a_longer_pause_wins(own_prefix_and_book):
    limits.pause_heard({"type": "pause", "keys": ["7|shop"], "ms": 2000})
    limits.pause_heard({"type": "pause", "keys": ["7|shop"], "ms": 500})
    left, key = own_prefix_and_book.left_ms(["7|other", "7|shop"])
    assert key == "7|shop" and 1500 < left <= 2001
    limits.pause_heard({"type": "pause", "keys": "not a list of keys", "ms": "x"})  # ignored, no error


def test_an_engine_that_missed_the_notice_learns_the_pause_from_redis(own_prefix_and_book):
    backend.pause(["7|shop"], 2)
    assert own_prefix_and_book.left_ms(["7|shop"]) == (0, "")
    limits.refresh_pauses()
    left, key = own_prefix_and_book.left_ms(["7|shop"])
    assert key == "7|shop" and 1500 < left <= 2001
    assert limits.before_call(run_of(), Outcome()) is not None


def test_a_retry_after_pauses_the_key_here_in_redis_and_for_the_other_engines():
    with RuntimeEnv("pauses") as env:
        conn, channel = env.channel()
        broker.declare_infrastructure(channel)
        listener = channel.queue_declare(queue="", exclusive=True).method.queue
        channel.queue_bind(queue=listener, exchange=names.control_exchange())
        refused = RetryableError("HTTP 429", kind="429", retry_after=2)
        outcome = limits.after_retry_after(run_of(), Outcome(), refused)
        assert outcome is not None and outcome.code == LIMIT_WAIT
        shorter = RetryableError("HTTP 429", kind="429", retry_after=1)
        limits.after_retry_after(run_of(), Outcome(), shorter)  # ends within the known pause: not told again
        # Here at once, in Redis for engines that start later, and over the control exchange for the others.
        assert limits.before_call(run_of(), Outcome()) is not None
        assert 1500 < backend.pauses()["7|shop"] <= 2000
        deadline = time.monotonic() + 5
        while (got := channel.basic_get(listener, auto_ack=True))[0] is None:
            assert time.monotonic() < deadline, "no pause notice on the control exchange"
            time.sleep(0.02)
        assert json.loads(got[2]) == {"type": "pause", "keys": ["7|shop"], "ms": 2000}
        time.sleep(0.2)
        assert channel.basic_get(listener, auto_ack=True)[0] is None
        conn.close()


def test_the_watcher_reads_the_pauses_before_the_engine_consumes_then_every_second(own_prefix_and_book):
    backend.pause(["7|early"], 5)
    stop = threading.Event()
    thread = limits.watch_pauses(stop)
    try:
        assert own_prefix_and_book.left_ms(["7|early"])[1] == "7|early"  # read before returning
        backend.pause(["7|later"], 5)  # recorded by an engine whose notice this one missed
        deadline = time.monotonic() + limits.PAUSE_REFRESH_SECONDS * 3
        while own_prefix_and_book.left_ms(["7|later"])[0] == 0:
            assert time.monotonic() < deadline, "the watcher did not pick up the recorded pause"
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
