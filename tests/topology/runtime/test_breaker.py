"""The circuit breaker's state machine (a fake clock; no network) and its guard around a real local HTTP stub."""

from __future__ import annotations

import pytest

from tests.topology.runtime.harness import Stub
from topology.runtime import breaker
from topology.runtime.breaker import CircuitBreaker, CircuitOpen, State
from topology.runtime.errors import RetryableError
from topology.runtime.http import call_connector


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(failures: int = 3, cooldown: float = 10.0) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker(host="http://remote", failures=failures, cooldown=cooldown, clock=clock), clock


def test_opens_after_consecutive_failures_only():
    cb, _ = make(failures=3)
    cb.failure()
    cb.failure()
    cb.success()  # a success in between starts the count again
    cb.failure()
    cb.failure()
    assert cb.state == State.CLOSED and cb.before_call() is False
    cb.failure()
    assert cb.state == State.OPEN


def test_open_circuit_refuses_calls_until_the_cooldown_then_lets_one_probe():
    cb, clock = make(failures=1, cooldown=10)
    cb.failure()
    clock.now += 4
    with pytest.raises(CircuitOpen) as refused:
        cb.before_call()
    assert refused.value.retry_after == pytest.approx(6)
    clock.now += 6
    assert cb.before_call() is True  # the probe
    assert cb.state == State.HALF_OPEN
    with pytest.raises(CircuitOpen):
        cb.before_call()  # only one probe at a time


def test_successful_probe_closes_failed_probe_reopens():
    cb, clock = make(failures=1, cooldown=10)
    cb.failure()
    clock.now += 10
    assert cb.before_call() is True
    cb.failure(probe=True)
    assert cb.state == State.OPEN and cb.opened_at == clock.now
    clock.now += 10
    assert cb.before_call() is True
    cb.success()
    assert cb.state == State.CLOSED and cb.before_call() is False


def test_released_probe_frees_the_slot():
    cb, clock = make(failures=1, cooldown=1)
    cb.failure()
    clock.now += 1
    assert cb.before_call() is True
    cb.release(probe=True)
    assert cb.before_call() is True


def test_hosts_have_their_own_breakers():
    assert breaker.host_of("HTTP://Example.com:8080/a/b?c") == "http://example.com:8080"
    assert breaker.breaker_for("http://a.test/x") is breaker.breaker_for("http://a.test/y")
    assert breaker.breaker_for("http://a.test/x") is not breaker.breaker_for("http://b.test/x")


def test_connector_calls_stop_while_the_remote_is_down_and_probe_again(settings):
    settings.FLOWYARD_BREAKER_FAILURES = 2
    settings.FLOWYARD_BREAKER_COOLDOWN_MS = 60_000
    settings.FLOWYARD_EGRESS_ALLOW = ["127.0.0.1/32"]  # the stub is local
    stub = Stub()
    try:
        state = {"status": 503}
        stub.routes["/api"] = lambda call: (state["status"], {"ok": state["status"] < 500})
        config = {"url": stub.url, "path": "/api", "method": "POST"}
        for _ in range(2):
            with pytest.raises(RetryableError):
                call_connector(config=config, credentials=None, body=b"{}")
        for _ in range(5):
            with pytest.raises(CircuitOpen):
                call_connector(config=config, credentials=None, body=b"{}")
        assert stub.count("/api") == 2  # nothing more reached the failing remote
        cb = breaker.breaker_for(stub.url)
        cb.opened_at -= 60  # the cool-down is over
        state["status"] = 200
        assert call_connector(config=config, credentials=None, body=b"{}").headers["http-status"] == "200"
        assert cb.state == State.CLOSED and stub.count("/api") == 3
    finally:
        stub.close()
