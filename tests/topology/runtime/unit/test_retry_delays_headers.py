"""Pure runtime modules, without RabbitMQ: retry policy, delay tiers, the message envelope."""

from __future__ import annotations

import pytest

from topology.runtime import headers as h
from topology.runtime.delays import pick_tier
from topology.runtime.retry import RetryPolicy

TIERS = [1000, 5000, 30000]


def test_retry_policy_reads_editor_strings_and_clamps():
    policy = RetryPolicy.from_config(
        {"attempts": "-2", "interval": "0.5", "backoff": "0.1", "retry_on": "5xx, timeout", "jitter": "yes"}
    )
    assert policy.attempts == 0 and policy.interval == 0.5
    assert policy.backoff == 1.0  # a backoff below 1 would shrink the wait
    assert policy.retry_on == ("5xx", "timeout") and policy.jitter


@pytest.mark.parametrize(
    ("retry_on", "kind", "retried"),
    [
        (("all",), "error", True),
        (("5xx",), "503", True),
        (("5xx",), "429", False),
        (("429",), "429", True),
        (("timeout",), "connection", False),
        (("error",), "error", True),
    ],
)
def test_retry_policy_decides_per_failure_kind(retry_on, kind, retried):
    assert RetryPolicy(retry_on=retry_on).retries(kind) is retried


def test_backoff_grows_and_is_capped():
    policy = RetryPolicy(interval=1.0, backoff=3.0, max_delay=10.0)
    assert [policy.delay_ms(n) for n in range(4)] == [1000, 3000, 9000, 10000]


def test_jitter_stays_within_the_backoff():
    policy = RetryPolicy(interval=2.0, backoff=2.0, jitter=True)
    assert all(0 <= policy.delay_ms(2) <= 8000 for _ in range(200))


@pytest.mark.parametrize(
    ("remaining", "tier"),
    [(0, None), (-5, None), (400, None), (500, 1000), (1000, 1000), (4999, 1000), (7000, 5000), (10**7, 30000)],
)
def test_delay_tier_never_overshoots_and_hops_long_waits(remaining, tier):
    assert pick_tier(remaining, TIERS) == tier


def test_normalise_keeps_strings_and_drops_broker_headers():
    assert h.normalise({"a": b"x\xff", "b": 3, "c": None, "x-death": [1]}) == {"a": "x\ufffd", "b": "3", "c": ""}


def test_strip_answers_removes_previous_results_and_internals():
    request = h.strip_answers(
        {"result-code": "1001", "repeat-hops": "2", h.DUE_AT: "1", h.FORWARD_TO: "n", h.CORRELATION_ID: "c"}
    )
    assert request == {h.CORRELATION_ID: "c"}


def test_start_headers_cannot_be_spoofed_by_extra_headers():
    headers = h.start_headers(
        correlation_id="c1",
        tenant_id=7,
        topology_id=3,
        version=2,
        node_key="start",
        extra={"tenant": "999", "result-code": "1006", "x-source": "hook"},
    )
    assert headers[h.TENANT] == "7" and headers[h.CORRELATION_ID] == "c1" and headers[h.NODE_ID] == "start"
    assert "result-code" not in headers and headers["x-source"] == "hook"


def test_derived_ids_are_stable_and_distinct():
    assert h.derived_id("m", 1) == h.derived_id("m", 1) != h.derived_id("m", 2)
    assert len(h.derived_id("m")) == 32
