"""Pure runtime modules, without RabbitMQ or a database: steps and fused built-in nodes, start plans, progress
events on the wire, confirm bookkeeping and the recorder's counting."""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace

import pytest

from topology.runtime import headers as h
from topology.runtime import names
from topology.runtime.broker import Confirms
from topology.runtime.events import EventBatch, NodeRun, ProcessStart, TrashRecord, decode_runs
from topology.runtime.executor import run_step
from topology.runtime.nodes import Noop
from topology.runtime.recorder import _count
from topology.runtime.spec import EdgeSpec, NodeSpec, RuntimeSpec, VersionSpec
from topology.runtime.starts import plan_start, publish_rounds


def chain(*kinds: str, ordered: tuple[str, ...] = ()) -> VersionSpec:
    """A version whose nodes n0, n1, ... of the given kinds follow each other in a row."""
    version = VersionSpec(id=7, number=1, topology_id=3, topology_name="t", tenant_id=5, enabled=True)
    for index, kind in enumerate(kinds):
        node = NodeSpec(id=100 + index, key=f"n{index}", kind=kind, config={}, version=version)
        node.ordered = node.key in ordered
        if kind == "python":
            node.instance = Noop({})
        version.nodes[node.key] = node
    keys = list(version.nodes)
    for source, target in itertools.pairwise(keys):
        default = version.nodes[source].kind == "router"
        version.nodes[source].followers.append(EdgeSpec(key=f"{source}>{target}", target=target, is_default=default))
        version.nodes[target].incoming.append(source)
    return version


def by_queue(version: VersionSpec) -> dict[str, NodeSpec]:
    return {node.base_queue: node for node in version.nodes.values()}


def test_built_in_nodes_run_in_the_step_of_the_node_before_them():
    version = chain("python", "transform", "router", "end")
    node = version.nodes["n0"]
    step = run_step(RuntimeSpec(), node, {h.CORRELATION_ID: "c1"}, b'{"a": 1}', "m1")
    assert [run.node_key for run in step.runs] == ["n0", "n1", "n2", "n3"]
    assert step.outputs == []  # the end node emits nothing: no queue hop after the Python node
    assert [run.emitted for run in step.runs] == [{"c1": 1}, {"c1": 1}, {"c1": 1}, {}]
    # Fused runs get the ids their messages would have had after a hop, so a redelivery repeats them.
    assert len({run.message_id for run in step.runs}) == 4


def test_ordered_and_delayed_targets_keep_their_hop():
    version = chain("python", "end", ordered=("n1",))
    step = run_step(RuntimeSpec(), version.nodes["n0"], {h.CORRELATION_ID: "c1"}, b"{}", "m1")
    assert [run.node_key for run in step.runs] == ["n0"]
    assert [out.routing_key for out in step.outputs] == [version.nodes["n1"].base_queue]

    waiting = chain("python", "wait", "end")
    waiting.nodes["n1"].config = {"waitSeconds": 2}
    step = run_step(RuntimeSpec(), waiting.nodes["n0"], {h.CORRELATION_ID: "c1"}, b"{}", "m1")
    # The wait node runs in the step and schedules itself through a delay tier; the end waits for it.
    assert [run.node_key for run in step.runs] == ["n0", "n1"]
    assert [out.exchange for out in step.outputs] == [names.delay_exchange(names.delay_tiers()[0])]


def test_five_python_nodes_cost_five_hops_and_the_counts_close():
    version = chain("start.webhook", "python", "python", "python", "python", "python", "end")
    queues = by_queue(version)
    plan = plan_start(version=version, node=version.nodes["n0"], body=b'{"x": 1}', correlation_id="c1")
    assert plan.events is None and len(plan.messages) == 1
    runs: list[NodeRun] = []
    hops = 0
    pending = list(plan.messages)
    while pending:
        message = pending.pop()
        hops += 1
        headers = dict(message.headers)
        runs += decode_runs(headers.pop(h.START_RUNS, "[]"))
        step = run_step(RuntimeSpec(), queues[message.routing_key], headers, message.body, message.message_id)
        runs += step.runs
        pending += [
            SimpleNamespace(routing_key=o.routing_key, headers=o.headers, body=o.body, message_id=o.message_id)
            for o in step.outputs
        ]
    assert hops == 5
    assert [run.node_key for run in runs] == [f"n{i}" for i in range(7)]
    writes = _count(runs, {"c1": SimpleNamespace(pk=1)}, set())
    counts = writes.counts[1]
    started = sum(start.messages for run in runs for start in run.starts)
    assert (counts.total + started, counts.done) == (7, 7)


def test_start_plans_that_cannot_carry_their_events_publish_them_first():
    to_end = chain("start.manual", "end")
    plan = plan_start(version=to_end, node=to_end.nodes["n0"], body=b"{}", correlation_id="c2")
    assert plan.messages == [] and plan.events is not None
    batch = EventBatch.decode(plan.events.body)
    assert [run.node_key for run in batch.runs] == ["n0", "n1"]
    assert batch.runs[0].starts[0].correlation_id == "c2"

    ordered = chain("start.manual", "python", ordered=("n0",))
    plan = plan_start(version=ordered, node=ordered.nodes["n0"], body=b"{}", correlation_id="c3")
    assert plan.events is not None and EventBatch.decode(plan.events.body).starts[0].messages == 1
    assert [m.routing_key for m in plan.messages] == [ordered.nodes["n0"].base_queue]
    assert publish_rounds([plan]) == [[plan.events], plan.messages]


def test_event_batch_round_trip_and_malformed_batches():
    trash = TrashRecord(
        tenant_id=1,
        version_id=2,
        node_id=3,
        node_key="n",
        correlation_id="c",
        process_id="p",
        message_id="m",
        headers={"a": "b"},
        body="{}",
        reason="boom",
    )
    run = NodeRun(
        correlation_id="c",
        message_id="m",
        tenant_id=1,
        version_id=2,
        node_id=3,
        node_key="n",
        result_code=2006,
        result_message="x" * 2000,
        started_at=1.5,
        duration_ms=0.12345,
        emitted={"c": 2},
        failed=True,
        trash=trash,
        starts=[ProcessStart(correlation_id="d", tenant_id=1, version_id=2, started_at=1.0)],
    )
    decoded = EventBatch.decode(EventBatch(engine="e", runs=[run]).encode())
    assert decoded.runs[0].trash == trash and decoded.runs[0].starts == run.starts
    assert decoded.runs[0].result_message == "x" * 1000 and decoded.runs[0].duration_ms == 0.123
    assert set(json.loads(EventBatch(engine="e", runs=[run]).encode())["runs"][0]) >= {"correlation_id", "emitted"}
    with pytest.raises(ValueError, match="malformed"):
        EventBatch.decode(b'{"runs": [{"message_id": "m"}]}')
    assert decode_runs("not json") == []


def test_confirms_settle_in_publish_order_singly_or_multiple():
    confirms = Confirms()
    log: list[str] = []
    for name in "abcd":
        confirms.published(lambda name=name: log.append(f"ack {name}"), lambda name=name: log.append(f"nack {name}"))
    confirms.confirm(2, ack=False, multiple=False)
    assert log == ["nack b"] and len(confirms) == 3
    confirms.confirm(3, ack=True, multiple=True)  # everything up to 3 that is still waiting: a, c
    assert log == ["nack b", "ack a", "ack c"] and len(confirms) == 1
    confirms.confirm(4, ack=True, multiple=False)
    assert log[-1] == "ack d" and len(confirms) == 0


def test_recorder_counts_each_message_once():
    run = NodeRun(
        correlation_id="c",
        message_id="m",
        tenant_id=1,
        version_id=2,
        node_id=3,
        node_key="n",
        result_code=0,
        result_message="",
        started_at=60.5,
        duration_ms=2.0,
        emitted={"c": 1, "other": 2},
    )
    processes = {"c": SimpleNamespace(pk=1), "other": SimpleNamespace(pk=2)}
    writes = _count([run, run], processes, {(1, "seen-before")})
    assert (writes.counts[1].done, writes.counts[1].duplicates, writes.counts[1].total) == (1, 1, 1)
    assert writes.counts[2].total == 2 and len(writes.events) == 1
    ((node_id, minute), stat) = next(iter(writes.stats.items()))
    assert node_id == 3 and minute.second == 0 and stat.processed == 1 and stat.duration_ms_max == 2.0


def test_a_run_counts_only_after_the_run_that_emitted_its_message():
    version = chain("python", "python", "end")
    headers = {h.CORRELATION_ID: "c"}
    parent = run_step(RuntimeSpec(), version.nodes["n0"], headers, b"{}", "m0")
    (out,) = parent.outputs
    assert out.headers[h.EMITTED_BY] == "m0"
    child = run_step(RuntimeSpec(), version.nodes["n1"], dict(out.headers), out.body, out.message_id)
    assert [run.emitted_by for run in child.runs] == ["m0", out.message_id]  # the fused end's emitter: n1
    processes = {"c": SimpleNamespace(pk=1)}
    # The child's event overtook its parent's: counting it would close done == total too early.
    early = _count(child.runs, processes, set())
    assert early.deferred == child.runs and early.counts[1].done == 0
    in_order = _count(parent.runs + child.runs, processes, set())
    assert in_order.deferred == [] and (in_order.counts[1].done, in_order.counts[1].total) == (3, 2)
    # Recorded earlier (a row in the database): the child counts.
    later = _count(child.runs, processes, {(1, "m0")})
    assert later.deferred == [] and later.counts[1].done == 2


def test_a_start_step_carried_by_every_branch_counts_once_and_no_duplicate():
    version = chain("start.manual", "fanout")
    for key in ("a", "b"):
        node = NodeSpec(id=200 + len(version.nodes), key=key, kind="python", config={}, version=version)
        node.instance = Noop({})
        version.nodes[key] = node
        version.nodes["n1"].followers.append(EdgeSpec(key=f"n1>{key}", target=key))
    plan = plan_start(version=version, node=version.nodes["n0"], body=b"{}", correlation_id="c")
    assert len(plan.messages) == 2 and plan.messages[0].headers[h.START_RUNS] == plan.messages[1].headers[h.START_RUNS]
    # Each branch's engine reports the carried runs (as engine.py does) before its own run.
    reported: list[NodeRun] = []
    for message in plan.messages:
        carried = decode_runs(message.headers[h.START_RUNS])
        for run in carried:
            run.carried = True
        reported += carried
    carried_twice = EventBatch.decode(EventBatch(engine="e", runs=reported).encode()).runs
    assert [run.carried for run in carried_twice] == [True] * 4
    writes = _count(carried_twice, {"c": SimpleNamespace(pk=1)}, set())
    assert (writes.counts[1].done, writes.counts[1].duplicates, writes.counts[1].total) == (2, 0, 3)
    # Recorded in an earlier batch: still no duplicate, nothing counted twice.
    again = _count(carried_twice[:2], {"c": SimpleNamespace(pk=1)}, {(1, r.message_id) for r in carried_twice})
    assert (again.counts[1].done, again.counts[1].duplicates) == (0, 0)
