"""Node kinds end to end: retry policy, connector and worker HTTP outcomes, gateways, splitter, join, wait."""

from __future__ import annotations

import json

import pytest

from admin_ui.models import Application, ApplicationInstall
from processes.models import Process
from processes.services import process_start
from tests.topology.runtime.harness import ready, runs, wait_process
from tests.topology.runtime.nodes_for_tests import record_key
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime import state
from trash.models import TrashMessage

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FAST_RETRY = {"attempts": 2, "interval": 0.1, "backoff": 5, "max_delay": 5}


def test_retry_with_backoff_then_success(tenant_a, runtime):
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {
                "start": "start.manual",
                "flaky": ("python", {"registry": "test.flaky", "fail_times": 2}, {"retry": FAST_RETRY}),
                "end": "end",
            },
            ["start>flaky", "flaky>end"],
        ),
    )
    process = wait_process(process_start(version=version, body={}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS
    flaky = runs(process, "flaky")
    assert [e.result_code for e in flaky] == [2001, 2001, 0]
    # interval 0.1 s then 0.5 s (backoff 5): the second wait is clearly longer than the first.
    first_gap = (flaky[1].started_at - flaky[0].started_at).total_seconds()
    second_gap = (flaky[2].started_at - flaky[1].started_at).total_seconds()
    assert first_gap >= 0.09 and second_gap >= 0.45 and second_gap > first_gap
    assert process.failed == 2 and process.trashed == 0


def test_retry_exhaustion_lands_in_trash_with_reason(tenant_a, runtime):
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {
                "start": "start.manual",
                "flaky": (
                    "python",
                    {"registry": "test.flaky", "fail_times": 99},
                    {"retry": {"attempts": 1, "interval": 0.1}},
                ),
                "end": "end",
            },
            ["start>flaky", "flaky>end"],
        ),
    )
    process = wait_process(process_start(version=version, body={"x": 1}).correlation_id, env=runtime)
    assert process.status == Process.Status.FAILED
    trash = TrashMessage.objects.get(correlation_id=process.correlation_id)
    assert trash.reason.startswith("retries exhausted after 2 attempts: flaky failure 2")
    assert json.loads(trash.body) == {"x": 1}
    assert trash.headers["correlation-id"] == process.correlation_id


def connector_version(tenant, runtime, stub, path):
    app, _ = Application.objects.get_or_create(key="http", defaults={"name": "HTTP"})
    install = ApplicationInstall.objects.create(
        tenant=tenant,
        application=app,
        name=f"stub-{path}",
        settings={"base_url": stub.url, "auth_type": "bearer"},
        secrets={"token": "s3cret"},
    )
    return ready(
        runtime,
        make_runtime_version(
            tenant,
            {
                "start": "start.manual",
                "call": (
                    "connector",
                    {"method": "POST", "path": path + "/{id}"},
                    {"install": install, "retry": FAST_RETRY},
                ),
                "end": "end",
            },
            ["start>call", "call>end"],
        ),
    )


def test_connector_2xx_passes_response_on(tenant_a, runtime, stub):
    stub.routes["/ok/7"] = lambda call: (200, {"echo": call["json"], "auth": call["headers"].get("Authorization")})
    version = connector_version(tenant_a, runtime, stub, "/ok")
    process = wait_process(process_start(version=version, body={"id": 7}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS
    assert stub.count("/ok/7") == 1
    assert stub.calls[-1]["headers"]["Authorization"] == "Bearer s3cret"


def test_connector_5xx_is_retried_then_trashed(tenant_a, runtime, stub):
    stub.routes["/down/1"] = lambda call: (503, {"error": "maintenance"})
    version = connector_version(tenant_a, runtime, stub, "/down")
    process = wait_process(process_start(version=version, body={"id": 1}).correlation_id, env=runtime)
    assert process.status == Process.Status.FAILED
    assert stub.count("/down/1") == 3  # first try + 2 retries
    assert "HTTP 503" in TrashMessage.objects.get(correlation_id=process.correlation_id).reason


def test_connector_4xx_is_trashed_at_once_with_response(tenant_a, runtime, stub):
    stub.routes["/bad/1"] = lambda call: (422, {"error": "email is invalid"})
    version = connector_version(tenant_a, runtime, stub, "/bad")
    process = wait_process(process_start(version=version, body={"id": 1}).correlation_id, env=runtime)
    assert process.status == Process.Status.FAILED
    assert stub.count("/bad/1") == 1
    reason = TrashMessage.objects.get(correlation_id=process.correlation_id).reason
    assert "HTTP 422" in reason and "email is invalid" in reason


def worker_version(tenant, runtime, stub, action):
    return ready(
        runtime,
        make_runtime_version(
            tenant,
            {
                "start": "start.manual",
                "work": ("worker", {"url": stub.url, "action": action}, {"retry": FAST_RETRY}),
                "end": "end",
            },
            ["start>work", "work>end"],
        ),
    )


def test_worker_envelope_and_stripped_answers(tenant_a, runtime, stub):
    def answer(call):
        return 200, {
            "body": json.dumps({"n": json.loads(call["json"]["body"])["n"] + 1}),
            "headers": {**call["json"]["headers"], "result-code": "0"},
        }

    stub.routes["/custom-node/inc/process"] = answer
    version = worker_version(tenant_a, runtime, stub, "/custom-node/inc/process")
    process = wait_process(
        process_start(version=version, body={"n": 1}, headers={"result-code": "1006", "x-keep": "1"}).correlation_id,
        env=runtime,
    )
    assert process.status == Process.Status.SUCCESS
    sent = stub.calls[-1]["json"]
    assert json.loads(sent["body"]) == {"n": 1}
    assert "result-code" not in sent["headers"] and sent["headers"]["correlation-id"] == process.correlation_id


def test_worker_5xx_retried_4xx_and_missing_code_trashed(tenant_a, runtime, stub):
    stub.routes["/w500"] = lambda call: (500, {"error": "boom"})
    stub.routes["/w400"] = lambda call: (400, {"error": "bad request"})
    stub.routes["/wnocode"] = lambda call: (200, {"body": "{}", "headers": {}})
    results = {}
    for action in ("/w500", "/w400", "/wnocode"):
        version = worker_version(tenant_a, runtime, stub, action)
        results[action] = wait_process(process_start(version=version, body={}).correlation_id, env=runtime)
    assert all(p.status == Process.Status.FAILED for p in results.values())
    assert stub.count("/w500") == 3 and stub.count("/w400") == 1 and stub.count("/wnocode") == 1
    reasons = {a: TrashMessage.objects.get(correlation_id=p.correlation_id).reason for a, p in results.items()}
    assert "worker HTTP 400" in reasons["/w400"]
    assert "without result-code" in reasons["/wnocode"]
    assert "retries exhausted" in reasons["/w500"]


def test_router_first_match_then_default_then_trash(tenant_a, runtime):
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {"start": "start.manual", "route": "router", "big": "end", "small": "end", "other": "end"},
            [
                "start>route",
                ("route>big", "amount > `100`"),
                ("route>small", "amount > `0`"),
                ("route>other", None, True),
            ],
        ),
    )
    big = wait_process(process_start(version=version, body={"amount": 500}).correlation_id)
    small = wait_process(process_start(version=version, body={"amount": 5}).correlation_id)
    other = wait_process(process_start(version=version, body={"amount": -1}).correlation_id)
    assert [runs(big, k) != [] for k in ("big", "small", "other")] == [True, False, False]
    assert [runs(small, k) != [] for k in ("big", "small", "other")] == [False, True, False]
    assert [runs(other, k) != [] for k in ("big", "small", "other")] == [False, False, True]

    no_default = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {"start": "start.manual", "route": "router", "big": "end"},
            ["start>route", ("route>big", "amount > `100`")],
        ),
    )
    lost = wait_process(process_start(version=no_default, body={"amount": 1}).correlation_id)
    assert lost.status == Process.Status.FAILED
    assert "no gateway condition matched" in TrashMessage.objects.get(correlation_id=lost.correlation_id).reason


def test_splitter_of_100_items_finishes_with_100_runs(tenant_a, runtime):
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {
                "start": "start.manual",
                "split": ("splitter", {"expression": "items"}),
                "each": ("transform", {"expression": "{id: id, copy: @}"}),
                "end": "end",
            },
            ["start>split", "split>each", "each>end"],
        ),
    )
    body = {"items": [{"id": i} for i in range(100)]}
    process = wait_process(process_start(version=version, body=body).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS
    assert len(runs(process, "each")) == 100 and len(runs(process, "end")) == 100
    assert process.total == process.done == 202


def test_fanout_and_join_merge_branches(tenant_a, runtime):
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {
                "start": "start.manual",
                "fork": "fanout",
                "left": ("transform", {"expression": "{l: v}"}),
                "right": ("transform", {"expression": "{r: v}"}),
                "join": "join",
                "end": "end",
            },
            ["start>fork", "fork>left", "fork>right", "left>join", "right>join", "join>end"],
        ),
    )
    process = wait_process(process_start(version=version, body={"v": 3}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS
    assert len(runs(process, "join")) == 2 and len(runs(process, "end")) == 1
    # Both branches reach the join in the same step now (the transforms run in the fan-out's step), so the two
    # arrivals run side by side: exactly one of them completes the set and emits the merge.
    assert sorted(run.emitted for run in runs(process, "join")) == [0, 1]
    # Both branch messages carry the start step's runs (start, fork, left, right): without faults, none of the
    # second copies counts as a redelivered duplicate (issue 13).
    assert process.duplicates == 0 and process.done == process.total


def test_prefetch_bounds_the_runs_at_once_while_more_inputs_are_delivered(tenant_a, runtime):
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {
                "start": "start.manual",
                "split": ("splitter", {"expression": "items"}),
                "slow": ("python", {"registry": "test.slow", "ms": 50}, {"prefetch": 3}),
                "end": "end",
            },
            ["start>split", "split>slow", "slow>end"],
        ),
    )
    body = {"items": list(range(30))}
    process = wait_process(process_start(version=version, body=body).correlation_id, timeout=60, env=runtime)
    assert process.status == Process.Status.SUCCESS and process.duplicates == 0
    at_once = [int(v) for v in state.client().lrange(record_key(process.correlation_id, "slow-concurrency"), 0, -1)]
    # The broker delivers up to twice the prefetch (inputs awaiting confirms keep no run slot), but never more
    # than `prefetch` of them run at once; and they do run side by side.
    assert len(at_once) == 30 and max(at_once) == 3


def test_wait_node_delays_through_tiers(tenant_a, runtime):
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {"start": "start.manual", "pause": ("wait", {"waitSeconds": 0.6}), "end": "end"},
            ["start>pause", "pause>end"],
        ),
    )
    process = wait_process(process_start(version=version, body={}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS
    pause = runs(process, "pause")
    end = runs(process, "end")
    assert (end[0].started_at - pause[0].started_at).total_seconds() >= 0.55


def test_publish_starts_event_topologies_of_the_tenant(tenant_a, tenant_b, runtime):
    listener = ready(
        runtime,
        make_runtime_version(tenant_a, {"on": ("start.event", {"event": "order.paid"}), "end": "end"}, ["on>end"]),
    )
    foreign = ready(
        runtime,
        make_runtime_version(tenant_b, {"on": ("start.event", {"event": "order.paid"}), "end": "end"}, ["on>end"]),
    )
    source = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {"start": "start.manual", "pub": ("publish", {"event": "order.paid"}), "end": "end"},
            ["start>pub", "pub>end"],
        ),
    )
    process = wait_process(process_start(version=source, body={"order": 1}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS
    import time

    deadline = time.monotonic() + 10
    while not Process.objects.filter(version=listener, status=Process.Status.SUCCESS).exists():
        assert time.monotonic() < deadline, runtime.log_tail()
        time.sleep(0.1)
    assert not Process.objects.filter(version=foreign).exists()
