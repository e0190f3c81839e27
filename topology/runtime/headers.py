"""The message envelope: Flowyard header names (DESIGN.md §4) and helpers to build and derive messages."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from typing import Any

CORRELATION_ID = "correlation-id"
PROCESS_ID = "process-id"
PARENT_ID = "parent-id"
# The process-ids above the parent, nearest first (comma-separated): a join restores the parent's own parent from
# it, so a join after a nested fork and join files both sides under the same outer parent.
ANCESTOR_IDS = "ancestor-ids"
SEQUENCE_ID = "sequence-id"
TENANT = "tenant"
USER = "user"
TOPOLOGY_ID = "topology-id"
VERSION = "version"
NODE_ID = "node-id"
PREVIOUS_NODE_ID = "previous-node-id"
APPLICATION = "application"
RESULT_CODE = "result-code"
RESULT_MESSAGE = "result-message"
REPEAT_HOPS = "repeat-hops"
REPEAT_MAX_HOPS = "repeat-max-hops"
REPEAT_INTERVAL = "repeat-interval"
LIMITER_KEY = "limiter-key"
CURSOR = "cursor"
DEADLINE = "deadline"
PUBLISHED_AT = "published-at"
TRASH_ID = "trash-id"
FORWARD_TO = "forward-to"
# Orchesty worker protocol: the followers a worker may force, and the ids it forced (read as forward-to).
WORKER_FOLLOWERS = "worker-followers"
FORCE_TARGET_QUEUE = "force-target-queue"
REPEAT_KEYS = (REPEAT_HOPS, REPEAT_MAX_HOPS, REPEAT_INTERVAL)
# Engine-internal headers: never shown to nodes as answers, always recomputed by the engine.
DUE_AT = "due-at"
RETRY_ATTEMPT = "retry-attempt"
WAIT_NODE = "wait-node"
STATE_ATTEMPT = "state-attempt"  # retries while join state was unreachable
JOIN_SKIP = "join-skip"  # a "branch stopped" arrival at a join: the node that stopped with 1003 (joins.py)
# The progress events of a start step run outside an engine (the web process), carried by the messages it
# emitted: the engine that consumes one reports them before its own, so the recorder creates the process row
# and counts the start before anything that follows it (see `topology/runtime/starts.py`).
START_RUNS = "start-runs"
# The message id of the run that emitted this message (same process only): the recorder counts a run only after
# the run that emitted it, since an engine publishes a run's event and its outputs together.
EMITTED_BY = "emitted-by"
LIMITER_SLOT = "limiter-slot"  # the slot a waiting message holds in its limit queue

# Answers of the previous node that must not leak into the next call (an SDK worker echoes request headers).
ANSWER_PREFIXES = ("result-", "repeat-")
INTERNAL = frozenset(
    {
        DUE_AT,
        START_RUNS,
        EMITTED_BY,
        RETRY_ATTEMPT,
        WAIT_NODE,
        STATE_ATTEMPT,
        JOIN_SKIP,
        LIMITER_SLOT,
        FORWARD_TO,
        WORKER_FOLLOWERS,
        FORCE_TARGET_QUEUE,
        "x-death",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
    }
)


def opened_branch(headers: Mapping[str, str], process_id: str) -> dict[str, str]:
    """The process headers of a new branch `process_id` under the current process (fan-out, split, batch item)."""
    parent = headers.get(PARENT_ID, "")
    ancestors = headers.get(ANCESTOR_IDS, "")
    return {
        PROCESS_ID: process_id,
        PARENT_ID: headers.get(PROCESS_ID, ""),
        ANCESTOR_IDS: f"{parent},{ancestors}" if parent and ancestors else parent or ancestors,
    }


def closed_branch(headers: Mapping[str, str]) -> dict[str, str]:
    """The process headers after a join: the branches' parent carries on under its own parent."""
    up, _, rest = headers.get(ANCESTOR_IDS, "").partition(",")
    return {PROCESS_ID: headers.get(PARENT_ID, "") or headers.get(PROCESS_ID, ""), PARENT_ID: up, ANCESTOR_IDS: rest}


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id() -> str:
    return uuid.uuid4().hex


def derived_id(*parts: object) -> str:
    """A deterministic id: a redelivered input produces outputs with the same ids, so duplicates are recognisable."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def normalise(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """AMQP headers as Flowyard sees them: string values only, broker bookkeeping dropped."""
    if not headers:
        return {}
    # pika already decodes header strings to str: only other values need converting.
    return {key: value if type(value) is str else _text(value) for key, value in headers.items() if key[:2] != "x-"}


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)


def strip_answers(headers: Mapping[str, str]) -> dict[str, str]:
    """Request headers for a node call: previous `result-*`/`repeat-*` answers and engine internals removed."""
    return {k: v for k, v in headers.items() if not k.startswith(ANSWER_PREFIXES) and k not in INTERNAL}


def start_headers(
    *,
    correlation_id: str,
    tenant_id: int,
    topology_id: int,
    version: int,
    node_key: str,
    user: str = "",
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Headers of a process's first message, addressed to its start node."""
    headers = {k: str(v) for k, v in (extra or {}).items() if not k.startswith(ANSWER_PREFIXES)}
    headers.update(
        {
            CORRELATION_ID: correlation_id,
            PROCESS_ID: correlation_id,
            PARENT_ID: "",
            SEQUENCE_ID: "0",
            TENANT: str(tenant_id),
            USER: user,
            TOPOLOGY_ID: str(topology_id),
            VERSION: str(version),
            NODE_ID: node_key,
            PREVIOUS_NODE_ID: "",
            PUBLISHED_AT: str(now_ms()),
        }
    )
    return headers
