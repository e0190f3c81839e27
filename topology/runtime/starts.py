"""The first step of a process, run where the start is accepted (web request, Celery task), not in an engine.

A start node only passes its message on, so the start service runs its step here (with the built-in nodes after
it, see `executor.run_step`) and publishes straight to the first real node's queue: one queue hop saved per
process. The step's progress events ride on each message it emits (header `start-runs`); the engine that
consumes one reports them before its own run, so the recorder creates the process row from the start and
counts it before anything that follows. Nothing is written to the database on the start's request path, and a
crash after the publish's confirm loses nothing: the row comes from the message.

When the step cannot be carried that way (an ordered start node, or a step that emits nothing), `StartPlan`
has an event batch to publish, confirmed, before its messages.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from topology.runtime import headers as h
from topology.runtime import names
from topology.runtime.broker import Outgoing
from topology.runtime.events import EventBatch, NodeRun, ProcessStart, encode_runs
from topology.runtime.executor import run_step
from topology.runtime.spec import NodeSpec, RuntimeSpec, VersionSpec

SOURCE = "start"  # the `engine` of an event batch published by a start


@dataclass
class StartPlan:
    """What to publish for one start: `events` first (confirmed) when set, then `messages`."""

    correlation_id: str
    messages: list[Outgoing] = field(default_factory=list)
    events: Outgoing | None = None


def publish_rounds(plans: list[StartPlan]) -> list[list[Outgoing]]:
    """The plans' publishes in rounds: a round goes out at once, and only after the previous one is confirmed."""
    return [
        [plan.events for plan in plans if plan.events is not None],
        [message for plan in plans for message in plan.messages],
    ]


def _outgoing(exchange: str, routing_key: str, body: bytes, headers: dict[str, str], message_id: str) -> Outgoing:
    return Outgoing(routing_key=routing_key, body=body, headers=headers, message_id=message_id, exchange=exchange)


def plan_start(
    *,
    version: VersionSpec,
    node: NodeSpec,
    body: bytes,
    correlation_id: str | None = None,
    user: str = "",
    extra_headers: Mapping[str, str] | None = None,
    started_at: float | None = None,
) -> StartPlan:
    """Run the start node's step for one payload and say what to publish; never touches the database."""
    correlation_id = correlation_id or h.new_id()
    started_at = time.time() if started_at is None else started_at
    headers = h.start_headers(
        correlation_id=correlation_id,
        tenant_id=version.tenant_id,
        topology_id=version.topology_id,
        version=version.number,
        node_key=node.key,
        user=user,
        extra=extra_headers,
    )
    start = ProcessStart(
        correlation_id=correlation_id,
        tenant_id=version.tenant_id,
        version_id=version.id,
        started_at=started_at,
        messages=1,  # the start message itself, consumed by the start node's run
    )
    plan = StartPlan(correlation_id=correlation_id)
    first = _outgoing(names.exchange(), node.routing_key(body), body, headers, correlation_id)
    if node.ordered or node.shards:
        # Its single active consumer keeps the order: the engine runs it; the row is created first.
        plan.events = _events([], [start])
        plan.messages = [first]
        return plan
    step = run_step(RuntimeSpec(versions={version.id: version}), node, headers, body, correlation_id)
    step.runs[0].starts.append(start)
    if not step.outputs:
        plan.events = _events(step.runs, [])
        return plan
    carried = encode_runs(step.runs)
    for out in step.outputs:
        out.headers[h.START_RUNS] = carried
        plan.messages.append(_outgoing(out.exchange, out.routing_key, out.body, out.headers, out.message_id))
    return plan


def _events(runs: list[NodeRun], starts: list[ProcessStart]) -> Outgoing:
    batch = EventBatch(engine=SOURCE, runs=runs, starts=starts)
    return _outgoing(names.events_exchange(), "", batch.encode(), {}, h.new_id())
