"""Pure runtime pieces without a broker or database: where a stopped branch's skips go, and cluster URLs in turn."""

from __future__ import annotations

from types import SimpleNamespace

from topology.runtime import broker, joins
from topology.runtime import headers as h
from topology.runtime.executor import run_step
from topology.runtime.sdk import Result
from topology.runtime.spec import EdgeSpec, NodeSpec, RuntimeSpec, VersionSpec


def graph(nodes: dict[str, str], edges: list[str]) -> VersionSpec:
    version = VersionSpec(id=7, number=1, topology_id=3, topology_name="t", tenant_id=5, enabled=True)
    for index, (key, kind) in enumerate(nodes.items()):
        version.nodes[key] = NodeSpec(id=100 + index, key=key, kind=kind, config={}, version=version)
    for edge in edges:
        source, target = edge.split(">")
        version.nodes[source].followers.append(EdgeSpec(key=edge, target=target))
        version.nodes[target].incoming.append(source)
    return version


def test_first_joins_stop_at_the_first_join_on_every_path():
    version = graph(
        {"a": "python", "f": "fanout", "x": "python", "y": "python", "j1": "join", "b": "python", "j2": "join"},
        ["a>f", "f>x", "f>y", "x>j1", "y>j1", "j1>j2", "b>j2"],
    )
    [(join, paths)] = joins.first_joins(version.nodes["a"])
    assert join.key == "j1" and paths == [["a", "f", "x"], ["a", "f", "y"]]
    # From a node right before a join, the path is the node alone.
    [(join, paths)] = joins.first_joins(version.nodes["b"])
    assert join.key == "j2" and paths == [["b"]]


def test_a_stopped_branch_sends_the_join_what_its_arrival_would_have_carried():
    version = graph(
        {"fork": "fanout", "a": "python", "b": "python", "join": "join", "end": "end"},
        ["fork>a", "fork>b", "a>join", "b>join", "join>end"],
    )
    version.nodes["a"].instance = SimpleNamespace(process=lambda message: Result.stop("done here"))
    branch = {h.CORRELATION_ID: "c1", h.PROCESS_ID: "p-a", h.PARENT_ID: "c1", h.NODE_ID: "a"}
    step = run_step(RuntimeSpec(), version.nodes["a"], branch, b"{}", "m1")
    [skip] = step.outputs
    assert step.runs[0].result_code == 1003 and step.runs[0].emitted == {"c1": 1}
    assert skip.routing_key == version.nodes["join"].base_queue
    assert (skip.headers[h.PREVIOUS_NODE_ID], skip.headers[h.PARENT_ID], skip.headers[h.JOIN_SKIP]) == ("a", "c1", "a")
    # A redelivery of the stopped message repeats the same id: the join and the recorder see a duplicate.
    again = run_step(RuntimeSpec(), version.nodes["a"], branch, b"{}", "m1")
    assert again.outputs[0].message_id == skip.message_id


def test_each_connect_takes_the_next_node_of_a_cluster(settings):
    settings.AMQP_URL = "amqp://g:g@127.0.0.1:5001/%2F, amqp://g:g@127.0.0.1:5002/%2F,amqp://g:g@127.0.0.1:5003/%2F"
    ports = [broker.connection_parameters().port for _ in range(6)]
    assert sorted(set(ports)) == [5001, 5002, 5003] and ports[:3] == ports[3:]
    # A blocking connection gets them all, starting at the next in turn.
    ordered = [params.port for params in broker.all_connection_parameters()]
    assert sorted(ordered) == [5001, 5002, 5003] and ordered[0] != ports[-1]


def test_branch_ids_nest_and_a_join_restores_the_outer_parent():
    top = {h.PROCESS_ID: "c1", h.PARENT_ID: ""}
    outer = h.opened_branch(top, "p1")
    inner = h.opened_branch(outer, "p1a")
    assert (outer[h.PARENT_ID], outer[h.ANCESTOR_IDS]) == ("c1", "")
    assert (inner[h.PROCESS_ID], inner[h.PARENT_ID], inner[h.ANCESTOR_IDS]) == ("p1a", "p1", "c1")
    deeper = h.opened_branch(inner, "p1a1")
    assert deeper[h.ANCESTOR_IDS] == "p1,c1"
    # Each join closes one level: the inner merge carries p1 on under c1, which the outer join keys on.
    assert h.closed_branch(deeper) == {h.PROCESS_ID: "p1a", h.PARENT_ID: "p1", h.ANCESTOR_IDS: "c1"}
    assert h.closed_branch(inner) == {h.PROCESS_ID: "p1", h.PARENT_ID: "c1", h.ANCESTOR_IDS: ""}
    assert h.closed_branch(outer) == {h.PROCESS_ID: "c1", h.PARENT_ID: "", h.ANCESTOR_IDS: ""}


def test_first_joins_through_some_followers_only():
    version = graph(
        {"r": "router", "x": "python", "y": "python", "z": "python", "j": "join"},
        ["r>x", "r>y", "r>z", "x>j", "y>j", "z>x"],
    )
    [(join, paths)] = joins.first_joins(version.nodes["r"], via={"y"})
    assert join.key == "j" and paths == [["r", "y"]]
    # z leads into x, a source a taken path (x) reaches anyway: the caller keeps such a source out of the skips.
    [(_, paths)] = joins.first_joins(version.nodes["r"], via={"z"})
    assert paths == [["r", "z", "x"]]
