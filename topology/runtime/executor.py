"""Runs one message through one node and decides what to publish: the engine's logic without any I/O to RabbitMQ.

`run_step` is the entry point: it runs the consumed message's node, then, in the same step, every built-in
compute node its outputs go to (end, gateways, transform, wait), so those cost no queue hop of their own. It
returns the `NodeRun` events of every node it ran and the messages left to publish. Pool kinds (Python, HTTP,
joins in Redis) run on the engine's node threads, built-in kinds on its connection thread; the start service
runs a start node's step in the web process. Reads only the in-memory RuntimeSpec (plus Redis for joins, HTTP
for remote nodes).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import jmespath

from topology.kinds import INLINE_KINDS, PASSTHROUGH_KINDS, START_KINDS, calls_worker
from topology.runtime import breaker, delays, joins, limits, names, state
from topology.runtime import headers as h
from topology.runtime.backoff import backoff_seconds
from topology.runtime.errors import NodeError, RetryableError, TrashError
from topology.runtime.events import NodeRun, ProcessStart, TrashRecord
from topology.runtime.http import call_connector, call_worker
from topology.runtime.results import (
    CIRCUIT_OPEN,
    DELAY_HOP,
    RETRY_SCHEDULED,
    STATE_RETRY,
    TRASHED,
    ResultCode,
)
from topology.runtime.sdk import Message, Result
from topology.runtime.spec import NodeSpec, RuntimeSpec

log = logging.getLogger(__name__)

# Retries while join state is unreachable: 1 s doubling up to 30 s, for as long as it takes.
STATE_RETRY_BASE_SECONDS = 1.0
STATE_RETRY_MAX_SECONDS = 30.0
DEFAULT_MAX_HOPS = 10
DEFAULT_REPEAT_MS = 1000
WAIT_SCHEDULED = 2012
# Inline kinds (`topology.kinds`: no I/O, no user code) run on the engine's connection thread; a message to one
# that is not a start runs in the step of the node that emitted it (starts are entered from outside).
FUSED_KINDS = INLINE_KINDS - set(START_KINDS)
# A loop made of built-in nodes only would never leave a step; past this many runs the rest is published.
MAX_FUSED_RUNS = 64
# keepPayload nodes: bytes of each payload and outputs per run kept for the process page.
PAYLOAD_CAP = 64 * 1024
PAYLOAD_OUTPUTS = 5


@dataclass
class Output:
    """One message to publish once the input's event is confirmed."""

    exchange: str
    routing_key: str
    headers: dict[str, str]
    body: bytes
    message_id: str
    correlation_id: str
    # The node the message is for (None for messages into another topology's start node).
    target: NodeSpec | None = None


@dataclass
class Outcome:
    """What happened to one input: its event fields, its outputs, and an optional trash record."""

    code: int = 0
    message: str = ""
    outputs: list[Output] = field(default_factory=list)
    failed: bool = False
    trash: TrashRecord | None = None
    starts: list[ProcessStart] = field(default_factory=list)
    # Ordered nodes keep the input unacked and run it again after this delay, so nothing overtakes it.
    hold_ms: int | None = None
    hold_headers: dict[str, str] | None = None
    # When the hold ends (time.monotonic()), if known when it was decided: a limiter slot is a moment, and the
    # time the answer takes to reach the engine's timer must not push it later.
    hold_until: float | None = None
    # The limiter is unreachable: the engine stops taking this node's messages until a held one gets through.
    limiter_down: bool = False


def encode(body: Any, fallback: bytes) -> bytes:
    if body is None:
        return fallback
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


class Run:
    """The context of one node run: the node, the input, and helpers to build outputs."""

    def __init__(self, runtime: RuntimeSpec, node: NodeSpec, headers: dict[str, str], body: bytes, mid: str) -> None:
        self.runtime = runtime
        self.node = node
        self.headers = headers
        self.body = body
        self.mid = mid
        self.correlation_id = headers.get(h.CORRELATION_ID, "")
        self._seq = 0

    def _next_id(self, tag: str) -> str:
        self._seq += 1
        return h.derived_id(self.mid, self.node.key, tag, self._seq)

    def to_node(
        self,
        target: NodeSpec,
        body: bytes,
        extra: dict[str, str] | None = None,
        *,
        tag: str = "out",
        delay_ms: int = 0,
        branch: str | None = None,
        sequence: int | None = None,
    ) -> Output:
        """A message for `target` carrying this run's headers; `branch` starts a new process-id under this one."""
        headers = h.strip_answers(self.headers)
        headers.update(h.strip_answers(extra or {}))
        # A batch's cursor drives its own loop only: items and the next node start without it.
        headers.pop(h.CURSOR, None)
        headers[h.NODE_ID] = target.key
        headers[h.PREVIOUS_NODE_ID] = self.node.key
        headers[h.PUBLISHED_AT] = str(h.now_ms())
        headers[h.EMITTED_BY] = self.mid
        if branch is not None:
            headers.update(h.opened_branch(self.headers, h.derived_id(self.mid, branch)))
        if sequence is not None:
            headers[h.SEQUENCE_ID] = str(sequence)
        message_id = self._next_id(tag)
        return delayed(
            Output(names.exchange(), target.routing_key(body), headers, body, message_id, self.correlation_id, target),
            delay_ms,
        )

    def to_self(self, extra: dict[str, str], *, delay_ms: int, tag: str, body: bytes | None = None) -> Output:
        """The same message back to this node (repeat, retry, cursor loop, wait), keeping internal headers."""
        headers = h.strip_answers(self.headers)
        headers.update(extra)
        headers[h.PUBLISHED_AT] = str(h.now_ms())
        headers[h.EMITTED_BY] = self.mid
        payload = self.body if body is None else body
        return delayed(
            Output(
                names.exchange(),
                self.node.routing_key(payload),
                headers,
                payload,
                self._next_id(tag),
                self.correlation_id,
                self.node,
            ),
            delay_ms,
        )


def delayed(output: Output, delay_ms: int) -> Output:
    """Send an output through a delay tier when it is not due yet (`due-at` lets long delays hop tiers)."""
    if delay_ms <= 0:
        return output
    output.headers[h.DUE_AT] = str(h.now_ms() + delay_ms)
    tier = delays.pick_tier(delay_ms)
    if tier is not None:
        output.exchange = names.delay_exchange(tier)
    return output


def redelay(runtime: RuntimeSpec, node: NodeSpec, headers: dict[str, str], body: bytes, mid: str) -> Outcome | None:
    """A message that arrived before its `due-at` goes back to a tier for the rest (long delays hop)."""
    due = headers.get(h.DUE_AT)
    if not due:
        return None
    try:
        remaining = int(due) - h.now_ms()
    except ValueError:
        return None
    tier = delays.pick_tier(remaining)
    if tier is None:
        return None
    out = Output(
        names.delay_exchange(tier),
        node.routing_key(body),
        # The carried start runs are recorded with this hop's run; the hop's message is this run's output.
        {**{k: v for k, v in headers.items() if k != h.START_RUNS}, h.EMITTED_BY: mid},
        body,
        h.derived_id(mid, "hop", due),
        headers.get(h.CORRELATION_ID, ""),
        node,
    )
    return Outcome(code=DELAY_HOP, message=f"waiting {remaining} ms more", outputs=[out])


# ---------------------------------------------------------------------------------------------- node kinds


def _call(run: Run) -> Result:
    node = run.node
    kind = node.kind
    if kind in PASSTHROUGH_KINDS:
        # User tasks are pass-through for now: parking a message for a person is not built yet.
        return Result()
    message = Message(body=run.body, headers=h.strip_answers(run.headers), message_id=run.mid)
    if kind == "python" or (kind == "batch" and not calls_worker(kind, node.config)):
        if node.instance is None:
            raise TrashError(f"python node {node.config.get('registry')!r} is not registered in this engine")
        try:
            result = node.instance.process(message)
        except NodeError:
            raise
        except Exception as exc:  # user code: any error goes through the retry policy
            raise RetryableError(f"{type(exc).__name__}: {exc}", kind="error") from exc
        if not isinstance(result, Result):
            raise TrashError(f"python node returned {type(result).__name__}, not Result")
        return result
    if kind in ("worker", "batch"):
        config = dict(node.config)
        if kind == "batch":
            config["batch"] = True
        followers = [{"name": node.version.nodes[e.target].name or e.target, "id": e.target} for e in node.followers]
        return call_worker(
            config=config, headers=run.headers, body=run.body, followers=followers, credentials=node.credentials
        )
    if kind == "connector":
        return call_connector(config=node.config, credentials=node.credentials, body=run.body)
    if kind == "transform":
        try:
            return Result(body=jmespath.search(str(node.config.get("expression", "@")), message.json()))
        except jmespath.exceptions.JMESPathError as exc:
            raise TrashError(f"transform expression failed: {exc}") from exc
    if kind == "splitter":
        data = message.json()
        expression = node.config.get("expression")
        if expression:
            data = jmespath.search(str(expression), data)
        if not isinstance(data, list):
            raise TrashError(f"splitter needs a JSON array, got {type(data).__name__}")
        return Result(items=[Result(body=item) for item in data])
    raise TrashError(f"node kind {kind!r} is not supported by the engine")


def _route(run: Run, result: Result) -> list[NodeSpec] | str:
    """Targets for a 0 result: conditions at an exclusive gateway (first match, else default), else all."""
    nodes = run.node.version.nodes
    edges = run.node.followers
    if run.node.kind == "router":
        data = _json(encode(result.body, run.body))
        default = None
        for edge in edges:
            if edge.is_default:
                default = edge
                continue
            if edge.compiled is None:
                continue
            try:
                if edge.compiled.search(data):
                    return [nodes[edge.target]]
            except jmespath.exceptions.JMESPathError:
                continue
        if default is not None:
            return [nodes[default.target]]
        if not edges:
            return []
        return "no gateway condition matched and there is no default flow"
    return [nodes[e.target] for e in edges]


def _emit(run: Run, targets: list[NodeSpec], result: Result, outcome: Outcome) -> None:
    body = encode(result.body, run.body)
    fork = run.node.kind == "fanout" or len(targets) > 1
    for target in targets:
        outcome.outputs.append(
            run.to_node(target, body, result.headers, branch=f"branch:{target.key}" if fork else None)
        )


def _emit_items(run: Run, items: list[Result], outcome: Outcome) -> None:
    """One message per item and follower, each item a new process-id under the current one."""
    targets = [run.node.version.nodes[e.target] for e in run.node.followers]
    cursor = run.headers.get(h.CURSOR, "")
    for index, item in enumerate(items):
        body = encode(item.body, b"")
        for target in targets:
            outcome.outputs.append(
                run.to_node(target, body, item.headers, branch=f"item:{cursor}:{index}:{target.key}", sequence=index)
            )


def _state_retry(run: Run, exc: state.StateUnavailable) -> Outcome:
    """Runtime state is unreachable: the message comes back later with growing delays, never to the trash."""
    attempt = int(run.headers.get(h.STATE_ATTEMPT) or 0)
    delay_ms = int(backoff_seconds(attempt, base=STATE_RETRY_BASE_SECONDS, cap=STATE_RETRY_MAX_SECONDS) * 1000)
    outcome = Outcome(code=STATE_RETRY, message=f"waiting for runtime state {delay_ms} ms (try {attempt + 1}): {exc}")
    _delay_self(run, outcome, {h.STATE_ATTEMPT: str(attempt + 1)}, delay_ms, f"state:{attempt + 1}")
    return outcome


def _wait(run: Run, outcome: Outcome) -> bool:
    """First arrival schedules itself after the wait; the delayed arrival (marked with wait-node) passes on."""
    if run.headers.get(h.WAIT_NODE) == run.node.key:
        return False
    seconds: Any = run.node.config.get("waitSeconds") or 0
    header = run.node.config.get("waitHeader")
    if header and run.headers.get(str(header)):
        seconds = run.headers[str(header)]
    try:
        delay_ms = int(float(seconds) * 1000)
    except (TypeError, ValueError):
        delay_ms = 0
    if delay_ms <= 0:
        return False
    outcome.outputs.append(run.to_self({h.WAIT_NODE: run.node.key}, delay_ms=delay_ms, tag="wait"))
    outcome.code = WAIT_SCHEDULED
    outcome.message = f"waiting {delay_ms} ms"
    return True


def _publish_event(run: Run, outcome: Outcome) -> None:
    """Start every enabled topology of this tenant whose event start listens to the node's event."""
    event = str(run.node.config.get("event") or "")
    version = run.node.version
    for target in run.runtime.events.get((version.tenant_id, event), []):
        correlation_id = h.derived_id(run.mid, "event", target.version.id, target.key)
        headers = h.start_headers(
            correlation_id=correlation_id,
            tenant_id=target.version.tenant_id,
            topology_id=target.version.topology_id,
            version=target.version.number,
            node_key=target.key,
            user=run.headers.get(h.USER, ""),
            extra={"event": event, "source-correlation-id": run.correlation_id},
        )
        outcome.outputs.append(
            Output(names.exchange(), target.routing_key(run.body), headers, run.body, correlation_id, correlation_id)
        )
        outcome.starts.append(
            ProcessStart(
                correlation_id=correlation_id,
                tenant_id=target.version.tenant_id,
                version_id=target.version.id,
                started_at=time.time(),
            )
        )


def _trash(run: Run, outcome: Outcome, reason: str, code: int = TRASHED) -> Outcome:
    outcome.code = code
    outcome.message = reason
    outcome.failed = True
    outcome.outputs = []
    outcome.trash = TrashRecord(
        tenant_id=run.node.version.tenant_id,
        version_id=run.node.version.id,
        node_id=run.node.id,
        node_key=run.node.key,
        correlation_id=run.correlation_id,
        process_id=run.headers.get(h.PROCESS_ID, ""),
        message_id=run.mid,
        headers=h.strip_answers(run.headers),
        body=run.body.decode("utf-8", errors="replace"),
        reason=reason,
    )
    return outcome


def _delay_self(run: Run, outcome: Outcome, extra: dict[str, str], delay_ms: int, tag: str) -> None:
    if run.node.ordered or run.node.shards:
        headers = dict(run.headers)
        headers.update(extra)
        outcome.hold_ms = delay_ms
        outcome.hold_headers = headers
    else:
        outcome.outputs.append(run.to_self(extra, delay_ms=delay_ms, tag=tag))


def _apply(run: Run, result: Result, outcome: Outcome) -> Outcome:
    code = int(result.code)
    outcome.code = code
    outcome.message = result.message
    node = run.node
    if code == ResultCode.OK:
        if node.kind == "join":
            joins.arrive(run, result, outcome)
            return outcome
        if result.items is not None:
            _emit_items(run, result.items, outcome)
            return outcome
        if node.kind == "publish":
            _publish_event(run, outcome)
        targets = _route(run, result)
        if isinstance(targets, str):
            return _trash(run, outcome, targets)
        _emit(run, targets, result, outcome)
        if node.kind == "router":
            joins.branches_not_taken(run, targets, outcome)
        return outcome
    if code == ResultCode.REPEAT:
        # As Orchesty: `repeat-max-hops` bounds the calls in all (the first one included), `repeat-interval`
        # is in seconds, and the repeated call sees the repeat-* headers (http.call_worker sends them back).
        hops = int(run.headers.get(h.REPEAT_HOPS) or 0) + 1
        max_hops = int(result.headers.get(h.REPEAT_MAX_HOPS) or run.headers.get(h.REPEAT_MAX_HOPS) or DEFAULT_MAX_HOPS)
        if hops >= max_hops:
            return _trash(run, outcome, f"repeat limit reached ({max_hops} hops): {result.message}".rstrip(": "))
        interval = result.headers.get(h.REPEAT_INTERVAL) or run.headers.get(h.REPEAT_INTERVAL) or ""
        try:
            delay_ms = int(float(interval) * 1000) if interval else DEFAULT_REPEAT_MS
        except ValueError:
            delay_ms = DEFAULT_REPEAT_MS
        extra = {h.REPEAT_HOPS: str(hops), h.REPEAT_MAX_HOPS: str(max_hops), h.REPEAT_INTERVAL: interval or "1"}
        _delay_self(run, outcome, extra, delay_ms, f"repeat:{hops}")
        return outcome
    if code == ResultCode.FORWARD:
        wanted = result.forward_to or [
            k.strip() for k in (result.headers.get(h.FORWARD_TO) or "").split(",") if k.strip()
        ]
        followers = {e.target for e in node.followers}
        unknown = [k for k in wanted if k not in followers]
        if unknown or not wanted:
            return _trash(run, outcome, f"forward-to names no follower of {node.key}: {', '.join(unknown) or '-'}")
        forwarded = [node.version.nodes[k] for k in wanted]
        _emit(run, forwarded, result, outcome)
        joins.branches_not_taken(run, forwarded, outcome)
        return outcome
    if code == ResultCode.STOP_OK:
        joins.branch_stopped(run, outcome)
        return outcome
    if code == ResultCode.LIMITED:
        return limits.after_limited(run, result, outcome, DEFAULT_REPEAT_MS)
    if code == ResultCode.STOP_FAIL:
        return _trash(run, outcome, result.message or "stopped with failure (1006)", code=code)
    if code in (ResultCode.BATCH_CURSOR, ResultCode.BATCH_CURSOR_ONLY):
        if code == ResultCode.BATCH_CURSOR and result.items:
            _emit_items(run, result.items, outcome)
        if result.cursor is None:
            return _trash(run, outcome, f"result {code} without a cursor")
        outcome.outputs.append(run.to_self({h.CURSOR: str(result.cursor)}, delay_ms=0, tag=f"cursor:{result.cursor}"))
        return outcome
    return _trash(run, outcome, f"unknown result-code {code}: {result.message}")


def execute(runtime: RuntimeSpec, node: NodeSpec, headers: dict[str, str], body: bytes, mid: str) -> Outcome:
    """Run the node for one message and return what to publish; never raises."""
    run = Run(runtime, node, headers, body, mid)
    outcome = Outcome()
    try:
        if node.kind == "wait" and _wait(run, outcome):
            return outcome
        # limiter: a node bound to a limited key runs only when the limiter admits it (topology/runtime/limits.py)
        if node.kind in limits.CALL_KINDS and (waiting := limits.before_call(run, outcome)) is not None:
            return waiting
        result = _call(run)
        return _apply(run, result, outcome)
    except state.StateUnavailable as exc:
        return _state_retry(run, exc)
    except breaker.CircuitOpen as exc:
        # The remote is known to be down: wait for the next probe without spending a retry attempt.
        outcome = Outcome(code=CIRCUIT_OPEN, message=str(exc))
        delay_ms = max(int(exc.retry_after * 1000), 1)
        _delay_self(run, outcome, {}, delay_ms, "circuit")
        return outcome
    except RetryableError as exc:
        if (paused := limits.after_retry_after(run, Outcome(), exc)) is not None:
            return paused
        attempt = int(headers.get(h.RETRY_ATTEMPT) or 0)
        if attempt < node.retry.attempts and node.retry.retries(exc.kind):
            delay_ms = node.retry.delay_ms(attempt)
            outcome = Outcome(
                code=RETRY_SCHEDULED,
                message=f"retry {attempt + 1}/{node.retry.attempts} in {delay_ms} ms: {exc.reason}",
                failed=True,
            )
            _delay_self(run, outcome, {h.RETRY_ATTEMPT: str(attempt + 1)}, delay_ms, f"retry:{attempt + 1}")
            return outcome
        if attempt:
            return _trash(run, Outcome(), f"retries exhausted after {attempt + 1} attempts: {exc.reason}")
        return _trash(run, Outcome(), exc.reason)
    except NodeError as exc:
        return _trash(run, Outcome(), exc.reason)
    except Exception as exc:
        log.exception("node %s failed unexpectedly", node.key)
        return _trash(run, Outcome(), f"engine error: {type(exc).__name__}: {exc}")


def poisoned(node: NodeSpec, headers: dict[str, str], body: bytes, mid: str, deliveries: int) -> Outcome:
    """The trash outcome of a message that was delivered `deliveries` times and never acknowledged."""
    run = Run(RuntimeSpec(), node, headers, body, mid)
    reason = (
        f"delivered {deliveries + 1} times without being acknowledged: running it stops the engine "
        f"(crash, out of memory, kill), so it is not run again (FLOWYARD_DELIVERY_LIMIT)"
    )
    return _trash(run, Outcome(), reason)


def timed_execute(
    runtime: RuntimeSpec, node: NodeSpec, headers: dict[str, str], body: bytes, mid: str
) -> tuple[Outcome, float, float]:
    """`execute`, with the wall-clock start (epoch seconds) and the duration in milliseconds."""
    started = time.time()
    t0 = time.perf_counter()
    outcome = execute(runtime, node, headers, body, mid)
    return outcome, started, (time.perf_counter() - t0) * 1000


def node_run(
    node: NodeSpec,
    headers: dict[str, str],
    mid: str,
    outcome: Outcome,
    *,
    started: float,
    duration_ms: float,
    redelivered: bool = False,
    body: bytes = b"",
) -> NodeRun:
    """The progress event of one run: its timeline row and the messages it emitted, per process."""
    emitted: dict[str, int] = {}
    for out in outcome.outputs:
        emitted[out.correlation_id] = emitted.get(out.correlation_id, 0) + 1
    payload = None
    if node.keep_payload:
        # Only for nodes whose operator asked (off by default: payloads can hold personal data), capped.
        payload = {
            "in": body[:PAYLOAD_CAP].decode("utf-8", "replace"),
            "out": [o.body[:PAYLOAD_CAP].decode("utf-8", "replace") for o in outcome.outputs[:PAYLOAD_OUTPUTS]],
        }
    return NodeRun(
        correlation_id=headers.get(h.CORRELATION_ID, ""),
        message_id=mid,
        emitted_by=headers.get(h.EMITTED_BY, ""),
        tenant_id=node.version.tenant_id,
        version_id=node.version.id,
        node_id=node.id,
        node_key=node.key,
        result_code=outcome.code,
        result_message=outcome.message,
        started_at=started,
        duration_ms=duration_ms,
        emitted=emitted,
        failed=outcome.failed,
        redelivered=redelivered,
        trash=outcome.trash,
        starts=outcome.starts,
        payload=payload,
    )


@dataclass
class Step:
    """What consuming one message did: the runs to report and the messages to publish, or a hold (ordered nodes)."""

    runs: list[NodeRun] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    hold_ms: int | None = None
    hold_headers: dict[str, str] | None = None
    hold_until: float | None = None  # see Outcome.hold_until
    limiter_down: bool = False  # see Outcome.limiter_down


def fusable(output: Output) -> bool:
    """Whether the message's node can run in the step that emitted it instead of after a queue hop.

    Not when the message is delayed (it goes through a tier first) or its node is ordered (its single active
    consumer is what keeps the order).
    """
    target = output.target
    return (
        target is not None
        and target.kind in FUSED_KINDS
        and not (target.ordered or target.shards)
        and output.exchange == names.exchange()
    )


def run_step(
    runtime: RuntimeSpec,
    node: NodeSpec,
    headers: dict[str, str],
    body: bytes,
    mid: str,
    *,
    redelivered: bool = False,
) -> Step:
    """Run the node for one consumed message, then the built-in nodes its outputs go to; never raises."""
    outcome, started, duration_ms = timed_execute(runtime, node, headers, body, mid)
    if outcome.hold_ms is not None:
        return Step(
            hold_ms=outcome.hold_ms,
            hold_headers=outcome.hold_headers,
            hold_until=outcome.hold_until,
            limiter_down=outcome.limiter_down,
        )
    step = Step(
        runs=[
            node_run(
                node,
                headers,
                mid,
                outcome,
                started=started,
                duration_ms=duration_ms,
                redelivered=redelivered,
                body=body,
            )
        ]
    )
    pending = list(reversed(outcome.outputs))
    while pending:
        out = pending.pop()
        if not fusable(out) or len(step.runs) >= MAX_FUSED_RUNS:
            step.outputs.append(out)
            continue
        assert out.target is not None
        # Its output ids derive from this message's id like after a hop, so a redelivery repeats them.
        child, started, duration_ms = timed_execute(runtime, out.target, out.headers, out.body, out.message_id)
        step.runs.append(
            node_run(
                out.target,
                out.headers,
                out.message_id,
                child,
                started=started,
                duration_ms=duration_ms,
                redelivered=redelivered,
                body=out.body,
            )
        )
        pending.extend(reversed(child.outputs))
    return step


def outcome_step(
    node: NodeSpec, headers: dict[str, str], mid: str, outcome: Outcome, *, started: float, redelivered: bool
) -> Step:
    """A step decided without running the node (terminated process, delay hop, poisoned message)."""
    run = node_run(node, headers, mid, outcome, started=started, duration_ms=0.0, redelivered=redelivered)
    return Step(runs=[run], outputs=list(outcome.outputs))
