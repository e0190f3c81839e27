"""One test per validation rule: each builds the smallest diagram that breaks it and checks the error."""

from __future__ import annotations

from typing import Any

import pytest

from tests.topology.factories import chain, linear_nodes, make_install
from topology.bpmn.build import build_bpmn
from topology.bpmn.parse import ParsedBpmn, ParsedEdge, ParsedNode, parse_bpmn
from topology.services import bpmn_validate

pytestmark = pytest.mark.django_db


def errors_for(tenant, nodes: list[dict[str, Any]], edges: list[dict[str, Any]] | None = None) -> list[dict[str, str]]:
    return bpmn_validate(parsed=parse_bpmn(build_bpmn(nodes, chain(nodes) if edges is None else edges)), tenant=tenant)


def one(tenant, *middle: dict[str, Any]) -> list[dict[str, str]]:
    nodes = linear_nodes(*middle)
    return errors_for(tenant, nodes)


def messages(errors: list[dict[str, str]]) -> str:
    return " | ".join(e["message"] for e in errors)


def test_valid_diagram_has_no_errors(tenant_a):
    install = make_install(tenant_a)
    errors = one(
        tenant_a,
        {"id": "C", "kind": "connector", "name": "Get", "install": install.pk, "path": "/orders", "method": "GET"},
        {"id": "T", "kind": "transform", "name": "Map", "expression": "items[].id"},
        {"id": "P", "kind": "python", "name": "Noop", "registry": "flowyard.noop"},
        {"id": "W", "kind": "worker", "name": "Remote", "url": "https://worker:8080", "action": "/x"},
        {"id": "Wt", "kind": "wait", "name": "Pause", "waitSeconds": 5},
        {"id": "Pub", "kind": "publish", "name": "Tell", "event": "order.synced"},
    )
    assert errors == []


def test_at_least_one_start(tenant_a):
    errors = errors_for(tenant_a, [{"id": "E", "kind": "end"}])
    assert {"element_id": "Process_1", "message": "Add at least one start event.", "field": "kind"} in errors


def test_every_node_reachable_from_a_start(tenant_a):
    nodes = linear_nodes({"id": "Lost", "kind": "transform", "name": "Lost", "expression": "a"})
    errors = errors_for(tenant_a, nodes, [{"source": "Start", "target": "End"}])
    assert [e["element_id"] for e in errors] == ["Lost"]
    assert "not reachable" in errors[0]["message"]


def test_no_edge_into_a_start(tenant_a):
    nodes = linear_nodes()
    errors = errors_for(
        tenant_a,
        nodes,
        [{"id": "f1", "source": "Start", "target": "End"}, {"id": "back", "source": "End", "target": "Start"}],
    )
    assert any(e["element_id"] == "back" and "cannot have incoming" in e["message"] for e in errors)


def test_unknown_kind(tenant_a):
    errors = one(tenant_a, {"id": "X", "kind": "teleport", "name": "X", "tag": "serviceTask"})
    assert errors == [{"element_id": "X", "message": "X: unknown node kind 'teleport'.", "field": "kind"}]


def test_missing_kind_asks_to_choose_one(tenant_a):
    errors = one(tenant_a, {"id": "X", "kind": "", "name": "Task", "tag": "task"})
    assert errors == [{"element_id": "X", "message": "Task: choose a Flowyard node kind.", "field": "kind"}]


def test_kind_must_fit_the_element(tenant_a):
    errors = one(tenant_a, {"id": "X", "kind": "router", "name": "X", "tag": "serviceTask"})
    assert errors[0]["element_id"] == "X" and "does not fit" in errors[0]["message"]


@pytest.mark.parametrize(
    ("node", "field"),
    [
        ({"id": "N", "kind": "connector", "name": "N", "path": "/x"}, "install"),
        ({"id": "N", "kind": "connector", "name": "N", "install": 1}, "path"),
        ({"id": "N", "kind": "python", "name": "N"}, "registry"),
        ({"id": "N", "kind": "worker", "name": "N"}, "url"),
        ({"id": "N", "kind": "transform", "name": "N"}, "expression"),
        ({"id": "N", "kind": "wait", "name": "N"}, "waitSeconds"),
        ({"id": "N", "kind": "publish", "name": "N"}, "event"),
        ({"id": "N", "kind": "batch", "name": "N"}, "registry"),
    ],
)
def test_required_fields_per_kind(tenant_a, node, field):
    errors = [e for e in one(tenant_a, node) if e["field"] == field]
    assert errors and errors[0]["element_id"] == "N"


def test_required_fields_of_start_kinds(tenant_a):
    nodes = [
        {"id": "C", "kind": "start.cron", "name": "Cron"},
        {"id": "Ev", "kind": "start.event", "name": "Event"},
        {"id": "E", "kind": "end", "name": "E"},
    ]
    errors = errors_for(tenant_a, nodes, [{"source": "C", "target": "E"}, {"source": "Ev", "target": "E"}])
    assert {(e["element_id"], e["field"]) for e in errors} == {("C", "cron"), ("Ev", "event")}


def test_splitter_expression_is_optional(tenant_a):
    assert one(tenant_a, {"id": "S", "kind": "splitter", "name": "Split"}) == []


def test_python_node_must_be_registered(tenant_a):
    errors = one(tenant_a, {"id": "P", "kind": "python", "name": "P", "registry": "no.such.node"})
    assert errors == [
        {"element_id": "P", "message": "P: no Python node named 'no.such.node' is registered.", "field": "registry"}
    ]


def test_worker_url_must_be_http(tenant_a):
    errors = one(tenant_a, {"id": "W", "kind": "worker", "name": "W", "url": "file:///etc/passwd"})
    assert [(e["element_id"], e["field"]) for e in errors] == [("W", "url")]


def test_batch_takes_a_registry_or_a_url(tenant_a):
    assert one(tenant_a, {"id": "B", "kind": "batch", "name": "B", "url": "http://w/batch"}) == []


def test_cron_must_be_valid(tenant_a):
    nodes = [{"id": "C", "kind": "start.cron", "name": "C", "cron": "every tuesday"}, {"id": "E", "kind": "end"}]
    errors = errors_for(tenant_a, nodes)
    assert [(e["element_id"], e["field"]) for e in errors] == [("C", "cron")]


@pytest.mark.parametrize("field", ["expression", "orderingKey"])
def test_jmespath_must_compile(tenant_a, field):
    node = {"id": "T", "kind": "transform", "name": "T", "expression": "a", field: "items[?"}
    errors = one(tenant_a, node)
    assert [(e["element_id"], e["field"]) for e in errors] == [("T", field)]
    assert "invalid JMESPath" in errors[0]["message"]


def test_condition_must_compile(tenant_a):
    nodes = [{"id": "S", "kind": "start.manual"}, {"id": "G", "kind": "router"}, {"id": "E", "kind": "end"}]
    edges = [{"source": "S", "target": "G"}, {"id": "bad", "source": "G", "target": "E", "condition": "${x > 5}"}]
    errors = errors_for(tenant_a, nodes, edges)
    assert [(e["element_id"], e["field"]) for e in errors] == [("bad", "condition")]


def test_router_outgoing_needs_condition_or_default(tenant_a):
    nodes = [
        {"id": "S", "kind": "start.manual"},
        {"id": "G", "kind": "router", "name": "Route"},
        {"id": "A", "kind": "end"},
    ]
    edges = [{"source": "S", "target": "G"}, {"id": "bare", "source": "G", "target": "A"}]
    errors = errors_for(tenant_a, nodes, edges)
    assert errors == [
        {
            "element_id": "bare",
            "message": "Route: each outgoing flow needs a condition or must be the default.",
            "field": "",
        }
    ]
    edges[1]["default"] = True
    assert errors_for(tenant_a, nodes, edges) == []


def test_router_has_at_most_one_default(tenant_a):
    # BPMN's `default` attribute holds one flow; the rule guards the graph shape itself.
    parsed = ParsedBpmn(
        process_id="P",
        process_name="",
        nodes=[
            ParsedNode("S", "S", "start.manual", "startEvent", {}, {}),
            ParsedNode("G", "G", "router", "exclusiveGateway", {}, {}),
            ParsedNode("E", "E", "end", "endEvent", {}, {}),
        ],
        edges=[
            ParsedEdge("f0", "S", "G"),
            ParsedEdge("f1", "G", "E", is_default=True),
            ParsedEdge("f2", "G", "E", is_default=True),
        ],
        unsupported=[],
        content_hash="",
        has_diagram=False,
    )
    assert bpmn_validate(parsed=parsed, tenant=tenant_a) == [
        {"element_id": "G", "message": "G: a gateway can have only one default flow.", "field": "default"}
    ]


def test_join_needs_two_incoming(tenant_a):
    errors = one(tenant_a, {"id": "J", "kind": "join", "name": "J"})
    assert [e["element_id"] for e in errors] == ["J"] and "two incoming" in errors[0]["message"]


def test_fanout_takes_one_incoming(tenant_a):
    nodes = [
        {"id": "S1", "kind": "start.manual"},
        {"id": "S2", "kind": "start.webhook"},
        {"id": "F", "kind": "fanout", "name": "F"},
        {"id": "E", "kind": "end"},
    ]
    edges = [{"source": "S1", "target": "F"}, {"source": "S2", "target": "F"}, {"source": "F", "target": "E"}]
    errors = errors_for(tenant_a, nodes, edges)
    assert [e["element_id"] for e in errors] == ["F"]


def test_node_names_are_unique(tenant_a):
    errors = one(
        tenant_a,
        {"id": "A", "kind": "transform", "name": "Same", "expression": "a"},
        {"id": "B", "kind": "transform", "name": "Same", "expression": "b"},
    )
    assert errors == [
        {"element_id": "B", "message": "Two nodes are named 'Same'; node names must be unique.", "field": "name"}
    ]


def test_install_must_exist_and_belong_to_the_tenant(tenant_a, tenant_b):
    foreign = make_install(tenant_b, "Theirs")
    for install_id in (foreign.pk, 999_999):
        errors = one(tenant_a, {"id": "C", "kind": "connector", "name": "C", "install": install_id, "path": "/x"})
        assert errors == [
            {"element_id": "C", "message": "C: the application install does not exist.", "field": "install"}
        ]


@pytest.mark.parametrize("prefetch", [0, 101])
def test_prefetch_between_1_and_100(tenant_a, prefetch):
    errors = one(
        tenant_a, {"id": "P", "kind": "python", "name": "P", "registry": "flowyard.noop", "prefetch": prefetch}
    )
    assert [(e["element_id"], e["field"]) for e in errors] == [("P", "prefetch")]


@pytest.mark.parametrize(
    ("attrs", "field"),
    [
        ({"retryAttempts": -1}, "retryAttempts"),
        ({"retryAttempts": "three"}, "retryAttempts"),
        ({"retryBackoff": 0.5}, "retryBackoff"),
        ({"retryInterval": 10, "retryMaxDelay": 5}, "retryMaxDelay"),
        ({"retryOn": "5xx,404"}, "retryOn"),
        ({"retryJitter": "maybe"}, "retryJitter"),
        ({"timeout": 0}, "timeout"),
        ({"shards": 0}, "shards"),
    ],
)
def test_retry_and_numbers_are_sane(tenant_a, attrs, field):
    node = {"id": "W", "kind": "worker", "name": "W", "url": "http://w", **attrs}
    errors = one(tenant_a, node)
    assert [(e["element_id"], e["field"]) for e in errors] == [("W", field)]


def test_end_nodes_have_no_outgoing(tenant_a):
    nodes = linear_nodes({"id": "T", "kind": "transform", "name": "T", "expression": "a"})
    edges = [*chain(nodes), {"id": "after_end", "source": "End", "target": "T"}]
    errors = errors_for(tenant_a, nodes, edges)
    assert [e["element_id"] for e in errors] == ["End"]


def test_branches_may_end_without_an_end_event(tenant_a):
    nodes = [{"id": "S", "kind": "start.manual"}, {"id": "T", "kind": "transform", "name": "T", "expression": "a"}]
    assert errors_for(tenant_a, nodes) == []


def test_no_process_at_all(tenant_a):
    xml = '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D"/>'
    assert bpmn_validate(parsed=parse_bpmn(xml), tenant=tenant_a) == [
        {"element_id": "", "message": "The file contains no BPMN process.", "field": ""}
    ]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"url": "http://attacker.example/"}, "url"),
        ({"path": "http://attacker.example/steal"}, "path"),
        ({"path": "//attacker.example/steal"}, "path"),
    ],
)
def test_a_node_using_an_install_may_set_a_relative_path_only(tenant_a, extra, field):
    install = make_install(tenant_a)
    node = {"id": "C", "kind": "connector", "name": "Steal", "install": install.pk, "path": "/orders", **extra}
    errors = one(tenant_a, node)
    assert [(e["element_id"], e["field"]) for e in errors] == [("C", field)]
    assert "install" in errors[0]["message"]


def test_a_worker_may_take_its_base_url_from_an_install(tenant_a, tenant_b):
    install = make_install(tenant_a, "Workers")
    install.settings = {"base_url": "https://workers.example.com/api"}
    install.save()
    worker = {"id": "W", "kind": "worker", "name": "W", "install": install.pk, "action": "/connector/x/action"}
    batch = {"id": "B", "kind": "batch", "name": "B", "install": install.pk, "action": "/batch/x/action"}
    assert one(tenant_a, worker, batch) == []
    # Another tenant's install with a base URL does not exist for this tenant.
    theirs = make_install(tenant_b, "Theirs")
    theirs.settings = {"base_url": "https://theirs.example.com"}
    theirs.save()
    errors = one(tenant_b, {**worker, "install": install.pk})
    assert errors == [{"element_id": "W", "message": "W: the application install does not exist.", "field": "install"}]


@pytest.mark.parametrize("kind", ["worker", "batch"])
def test_a_worker_needs_a_url_or_an_install_with_a_base_url(tenant_a, kind):
    bare = make_install(tenant_a, "No URL")
    errors = one(tenant_a, {"id": "W", "kind": kind, "name": "W", "install": bare.pk, "action": "/w"})
    assert [(e["field"], e["message"]) for e in errors] == [
        (
            "install",
            "W: the application install has no base URL; set one in the install's settings "
            "or give the node a worker URL instead of the install.",
        )
    ]
    errors = one(tenant_a, {"id": "W", "kind": "worker", "name": "W", "action": "/w"})
    assert [(e["field"], e["message"]) for e in errors] == [
        ("url", "W: a remote worker needs a worker URL or an application install with a base URL.")
    ]


def test_a_worker_using_an_install_calls_a_relative_action_path_only(tenant_a):
    install = make_install(tenant_a, "Workers")
    install.settings = {"base_url": "https://workers.example.com"}
    install.save()
    node = {"id": "W", "kind": "worker", "name": "W", "install": install.pk, "action": "https://attacker.example/x"}
    errors = one(tenant_a, node)
    assert [(e["field"], "install" in e["message"]) for e in errors] == [("action", True)]
