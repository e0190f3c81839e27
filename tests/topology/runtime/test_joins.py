"""Joins whose branches stop OK (1003), through a real engine, RabbitMQ and the database (runtime/joins.py)."""

from __future__ import annotations

import json

import pytest

from processes.models import JoinState, Process, ProcessPayload
from processes.services import process_start
from tests.topology.runtime.harness import ready, runs, wait_process
from tests.topology.runtime_factories import make_runtime_version
from topology.runtime import headers as h
from topology.runtime.spec import build_version
from topology.runtime.start_publisher import start_publisher
from topology.runtime.starts import plan_start

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ANSWER = ("python", {"registry": "test.answer"})
# The node after the join keeps its input, so the test sees what the merge carried.
SEEN = ("python", {"registry": "flowyard.noop", "keepPayload": True})


def join_row(version, process) -> JoinState:
    """The join's state row: the branches run under process-ids whose parent is the process's own."""
    corr = process.correlation_id
    return JoinState.objects.get(key=h.derived_id("join", version.pk, "join", corr, corr))


def one_stops(tenant, runtime):
    """`a` answers what the body says (1003 here), `b` passes `{b: v}` on; both go to the join."""
    return ready(
        runtime,
        make_runtime_version(
            tenant,
            {
                "start": "start.manual",
                "fork": "fanout",
                "a": ANSWER,
                "b": ("transform", {"expression": "{b: v}"}),
                "join": "join",
                "seen": SEEN,
                "end": "end",
            },
            ["start>fork", "fork>a", "fork>b", "a>join", "b>join", "join>seen", "seen>end"],
        ),
    )


def test_a_stopped_branch_counts_as_arrived_and_the_merge_carries_the_others(tenant_a, runtime):
    version = one_stops(tenant_a, runtime)
    process = wait_process(process_start(version=version, body={"code": 1003, "v": 3}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS and process.total == process.done
    assert [run.result_code for run in runs(process, "a")] == [1003]
    # The end was reached, with the body of the branch that arrived only.
    assert len(runs(process, "end")) == 1
    [payload] = ProcessPayload.objects.filter(process=process, node_key="seen")
    assert json.loads(payload.body_in) == {"b": {"b": 3}}
    row = join_row(version, process)
    assert row.skipped == ["a"] and list(row.arrivals) == ["b"] and row.completed_by


def test_a_redelivered_stopped_message_is_a_duplicate(tenant_a, runtime):
    version = one_stops(tenant_a, runtime)
    spec = build_version(version, runnable=False)
    plan = plan_start(version=spec, node=spec.nodes["start"], body=json.dumps({"code": 1003, "v": 4}).encode())
    to_a = [m for m in plan.messages if m.routing_key == spec.nodes["a"].base_queue]
    assert len(to_a) == 1
    # The message to `a` twice, same id and headers: what the broker hands out again after a lost ack.
    start_publisher.publish([[*plan.messages, *to_a]])
    process = wait_process(plan.correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS and process.total == process.done
    assert process.duplicates >= 2  # the stopped run and the skip it emitted, each seen twice
    assert len(runs(process, "a")) == 1 and len(runs(process, "join")) == 2
    assert len(runs(process, "end")) == 1
    assert join_row(version, process).skipped == ["a"]


def test_every_branch_stopped_stops_the_join_and_the_joins_after_it(tenant_a, runtime):
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {
                "start": "start.manual",
                "fork": "fanout",
                "a": ANSWER,
                "b": ANSWER,
                "join": "join",
                "fork2": "fanout",
                "c": SEEN,
                "d": SEEN,
                "join2": "join",
                "end": "end",
            },
            [
                "start>fork",
                "fork>a",
                "fork>b",
                "a>join",
                "b>join",
                "join>fork2",
                "fork2>c",
                "fork2>d",
                "c>join2",
                "d>join2",
                "join2>end",
            ],
        ),
    )
    process = wait_process(process_start(version=version, body={"code": 1003}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS and process.total == process.done
    assert runs(process, "c") == runs(process, "d") == runs(process, "end") == []
    # Each join took one skip per branch and stopped OK itself once both were in.
    assert sorted(run.result_code for run in runs(process, "join")) == [0, 1003]
    assert sorted(run.result_code for run in runs(process, "join2")) == [0, 1003]
    row = join_row(version, process)
    assert sorted(row.skipped) == ["a", "b"] and row.arrivals == {} and row.completed_by
    # Nothing left waiting: every join row of this process has completed its set.
    assert not JoinState.objects.filter(completed_by="", key__in=_keys(version, process)).exists()
    assert JoinState.objects.filter(key__in=_keys(version, process)).count() == 2


def _keys(version, process) -> list[str]:
    corr = process.correlation_id
    return [h.derived_id("join", version.pk, key, corr, corr) for key in ("join", "join2")]


def test_a_join_after_a_nested_fork_and_join_fires_once_with_both_sides(tenant_a, runtime):
    """fork → (a, fork2 → (b, c) → join2) → join → end: the inner merge arrives under the outer parent."""
    version = ready(
        runtime,
        make_runtime_version(
            tenant_a,
            {
                "start": "start.manual",
                "fork": "fanout",
                "a": ("transform", {"expression": "{a: v}"}),
                "fork2": "fanout",
                "b": ("transform", {"expression": "{b: v}"}),
                "c": ("transform", {"expression": "{c: v}"}),
                "join2": "join",
                "join": "join",
                "seen": SEEN,
                "end": "end",
            },
            [
                "start>fork",
                "fork>a",
                "fork>fork2",
                "fork2>b",
                "fork2>c",
                "b>join2",
                "c>join2",
                "a>join",
                "join2>join",
                "join>seen",
                "seen>end",
            ],
        ),
    )
    process = wait_process(process_start(version=version, body={"v": 5}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS and process.total == process.done
    assert len(runs(process, "end")) == 1
    [payload] = ProcessPayload.objects.filter(process=process, node_key="seen")
    assert json.loads(payload.body_in) == {"a": {"a": 5}, "join2": {"b": {"b": 5}, "c": {"c": 5}}}
    # The outer join's row is keyed on the process itself, with both sides in.
    row = join_row(version, process)
    assert sorted(row.arrivals) == ["a", "join2"] and row.completed_by


def test_a_path_an_exclusive_gateway_did_not_take_counts_as_stopped_at_the_join(tenant_a, runtime):
    """router → (x | y) → join → end: the join merges x alone instead of waiting for y forever."""
    version = make_runtime_version(
        tenant_a,
        {
            "start": "start.manual",
            "route": "router",
            "x": ("transform", {"expression": "{x: v}"}),
            "y": ("transform", {"expression": "{y: v}"}),
            "join": "join",
            "seen": SEEN,
            "end": "end",
        },
        ["start>route", ("route>x", "v > `1`"), ("route>y", None, True), "x>join", "y>join", "join>seen", "seen>end"],
    )
    ready(runtime, version)
    process = wait_process(process_start(version=version, body={"v": 7}).correlation_id, env=runtime)
    assert process.status == Process.Status.SUCCESS and process.total == process.done
    assert runs(process, "y") == [] and len(runs(process, "end")) == 1
    [payload] = ProcessPayload.objects.filter(process=process, node_key="seen")
    assert json.loads(payload.body_in) == {"x": {"x": 7}}
    row = join_row(version, process)
    assert row.skipped == ["y"] and list(row.arrivals) == ["x"]
