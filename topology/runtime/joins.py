"""Joins: one arrival per incoming branch (state in the database, `state.join_arrive`), then one merge.

A branch that stops with 1003 ("stop ok") has arrived at the first join downstream of it, as a Parallel branch
that ends in Succeed does in Step Functions. When a node answers 1003 the engine sends a "branch stopped"
arrival (header `join-skip`) to each join first reached from it in the static graph, one per incoming source of
that join reachable from the stopped node, with the process headers the real arrival would carry so it lands
under the same join key. The join records it like any arrival; when the set is complete it merges only the real
arrivals, and when every arrival was a skip the join itself stops OK and sends skips on to the joins after it.
So a process is `success` only once it reached every end it was going to reach, and no join row is left waiting
for a branch that ended early. Skips are ordinary messages: counted in the process totals, consumed by the join,
with ids derived from the stopped message so a redelivery repeats them as recognisable duplicates.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from typing import TYPE_CHECKING, Any

from topology.runtime import headers as h
from topology.runtime import state
from topology.runtime.results import ResultCode
from topology.runtime.sdk import Result
from topology.runtime.spec import NodeSpec

if TYPE_CHECKING:
    from topology.runtime.executor import Outcome, Output, Run

# Kinds that start a new process-id under the current one for what they emit (see executor._emit/_emit_items).
BRANCHING_KINDS = frozenset({"fanout", "splitter", "batch"})


def _branches(node: NodeSpec) -> bool:
    if node.kind == "router":  # an exclusive gateway emits to one follower only
        return False
    return node.kind in BRANCHING_KINDS or len(node.followers) > 1


def first_joins(node: NodeSpec, via: set[str] | None = None) -> list[tuple[NodeSpec, list[list[str]]]]:
    """The joins first reached from `node` (through its followers in `via`, else all), each with one path (node
    keys, `node` first) per reachable source."""
    nodes = node.version.nodes
    paths: dict[str, list[str]] = {node.key: [node.key]}
    joins: dict[str, NodeSpec] = {}
    queue = deque([node.key])
    while queue:
        key = queue.popleft()
        for edge in nodes[key].followers:
            if key == node.key and via is not None and edge.target not in via:
                continue
            target = nodes.get(edge.target)
            if target is None:
                continue
            if target.kind == "join":
                joins.setdefault(target.key, target)
                continue
            if target.key not in paths:
                paths[target.key] = [*paths[key], target.key]
                queue.append(target.key)
    return [
        (join, [paths[source] for source in sorted(set(join.incoming)) if source in paths]) for join in joins.values()
    ]


def _skip(run: Run, join: NodeSpec, path: list[str], *, forked: bool = False) -> Output:
    """The arrival `path[-1]` would have sent to `join` had the branch not stopped at `path[0]` (`forked`: had
    `path[0]` opened a branch for it, as it does when it emits to several followers)."""
    nodes = run.node.version.nodes
    ids = {key: run.headers.get(key, "") for key in (h.PROCESS_ID, h.PARENT_ID, h.ANCESTOR_IDS)}
    # Each branching node on the way would have opened a process-id under the current one; the join key is
    # built from the parent, so follow the same steps (the never-created ids derive from the stopped message).
    for index, (key, after) in enumerate(itertools.pairwise([*path, join.key])):
        if forked if index == 0 else _branches(nodes[key]):
            ids = h.opened_branch(ids, h.derived_id(run.mid, "skip-branch", key, after))
    out = run.to_node(join, b"", tag="skip")
    out.headers[h.PREVIOUS_NODE_ID] = path[-1]
    out.headers.update(ids)
    out.headers[h.JOIN_SKIP] = path[0]
    out.message_id = h.derived_id(run.mid, "join-skip", join.key, path[-1])
    return out


def branch_stopped(run: Run, outcome: Outcome) -> None:
    """The branch ends here (1003): a skip arrival for every source of the joins first reached from this node."""
    for join, paths in first_joins(run.node):
        outcome.outputs.extend(_skip(run, join, path) for path in paths)


def branches_not_taken(run: Run, taken: list[NodeSpec], outcome: Outcome) -> None:
    """A router, or a forward (1002), left followers out: their paths count as stopped at the first joins they
    lead to, except for join sources a taken path reaches anyway (those arrive for real)."""
    taken_keys = {node.key for node in taken}
    untaken = {edge.target for edge in run.node.followers} - taken_keys
    if not untaken:
        return
    skipped = first_joins(run.node, untaken)
    if not skipped:  # the usual router: no join after it, so no walk of the taken paths either
        return
    arriving = {join.key: {path[-1] for path in paths} for join, paths in first_joins(run.node, taken_keys)}
    for join, paths in skipped:
        for path in paths:
            if path[-1] not in arriving.get(join.key, ()):
                outcome.outputs.append(_skip(run, join, path, forked=len(taken) > 1))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def arrive(run: Run, result: Result, outcome: Outcome) -> None:
    """Record one arrival (real or skip); the arrival that completes the set emits the merge, or stops OK."""
    expected = len(set(run.node.incoming))
    parent = run.headers.get(h.PARENT_ID, "") or run.headers.get(h.PROCESS_ID, "")
    key = h.derived_id("join", run.node.version.id, run.node.key, run.correlation_id, parent)
    skip = h.JOIN_SKIP in run.headers
    arrivals = state.join_arrive(
        key=key,
        source=run.headers.get(h.PREVIOUS_NODE_ID, ""),
        body=None if skip else _json(run.body),
        expected=expected,
        message_id=run.mid,
        skipped=skip,
    )
    if not arrivals.emit:
        stopped = f", {len(arrivals.skipped)} stopped" if arrivals.skipped else ""
        outcome.message = f"join waiting ({len(arrivals.bodies) + len(arrivals.skipped)}/{expected}{stopped})"
        return
    if not arrivals.bodies:
        outcome.code = ResultCode.STOP_OK
        outcome.message = f"every incoming branch stopped ({', '.join(sorted(arrivals.skipped))})"
        # The merge would have carried the parent process on; its skips do. Only the completing arrival (and its
        # redeliveries) gets here, so ids derived from its message id are stable.
        merged = {**run.headers, **h.closed_branch(run.headers)}
        branch_stopped(type(run)(run.runtime, run.node, merged, b"", run.mid), outcome)
        return
    body = json.dumps(dict(sorted(arrivals.bodies.items()))).encode()
    for edge in run.node.followers:
        target = run.node.version.nodes[edge.target]
        out = run.to_node(target, body, result.headers)
        # The merge id depends only on the join, so a redelivered last arrival re-emits a recognisable duplicate.
        out.message_id = h.derived_id(key, edge.target)
        out.headers.update(h.closed_branch(run.headers))
        outcome.outputs.append(out)
