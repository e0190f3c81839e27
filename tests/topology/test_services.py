"""Topology services: rows derived from BPMN, the version lifecycle, hooks after commit, audit, diff, seed."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from admin_ui.errors import Refusal, ServiceError
from admin_ui.models import AuditEntry
from processes.models import Process
from tests.topology.factories import (
    chain,
    first_version,
    invalid_xml,
    linear_nodes,
    make_install,
    make_topology,
    valid_xml,
)
from topology import services
from topology.bpmn.build import build_bpmn
from topology.bpmn.parse import RETRY_DEFAULTS, BpmnError, content_hash
from topology.models import Edge, Node, Topology, TopologyVersion
from topology.runtime import control
from topology.seed import EXAMPLE_NAME, seed_example_topology
from topology.selectors import version_compare

pytestmark = pytest.mark.django_db


def test_create_makes_a_first_draft_with_a_starter_diagram(tenant_a, alice):
    topology = services.topology_create(tenant=tenant_a, name="  Sync  ", actor=alice)
    version = first_version(topology)
    assert topology.name == "Sync"
    assert version.status == "draft" and not version.enabled and version.errors == []
    assert list(version.nodes.values_list("kind", flat=True)) == ["start.manual"]
    assert version.content_hash == content_hash(version.bpmn_xml)
    assert AuditEntry.objects.filter(tenant=tenant_a, action="topology.create", object_id=str(topology.pk)).exists()


def test_names_are_unique_per_tenant_among_live_topologies(tenant_a, tenant_b, alice, bob):
    topology = make_topology(tenant_a, alice, "Orders")
    with pytest.raises(ServiceError) as info:
        services.topology_create(tenant=tenant_a, name="Orders", actor=alice)
    assert "name" in info.value.errors
    make_topology(tenant_b, bob, "Orders")  # another tenant may use the name
    services.topology_delete(topology=topology, actor=alice)
    make_topology(tenant_a, alice, "Orders")  # a deleted topology frees its name
    assert Topology.objects.filter(tenant=tenant_a, name="Orders").count() == 2


def test_save_derives_nodes_and_edges(tenant_a, alice):
    install = make_install(tenant_a)
    topology = make_topology(tenant_a, alice)
    nodes = linear_nodes(
        {
            "id": "C",
            "kind": "connector",
            "name": "Get",
            "install": install.pk,
            "path": "/o",
            "prefetch": 5,
            "ordered": True,
            "retryAttempts": 7,
        },
        {"id": "G", "kind": "router", "name": "Big?"},
    )
    edges = [
        {"id": "f1", "source": "Start", "target": "C"},
        {"id": "f2", "source": "C", "target": "G"},
        {"id": "f3", "source": "G", "target": "End", "condition": "total > `10`"},
        {"id": "f4", "source": "G", "target": "End", "default": True},
    ]
    version = services.topology_version_save(
        version=first_version(topology), bpmn_xml=build_bpmn(nodes, edges), actor=alice
    )
    assert version.number == 1 and version.errors == []
    connector = Node.objects.get(version=version, key="C")
    assert connector.install == install and connector.prefetch == 5 and connector.ordered
    assert connector.config["path"] == "/o" and connector.config["install"] == install.pk
    assert connector.retry == {**RETRY_DEFAULTS, "attempts": 7}
    edges_rows = {e.key: e for e in Edge.objects.filter(version=version).select_related("source", "target")}
    assert set(edges_rows) == {"f1", "f2", "f3", "f4"}
    assert edges_rows["f3"].condition == "total > `10`" and not edges_rows["f3"].is_default
    assert edges_rows["f4"].is_default and edges_rows["f4"].source.key == "G" and edges_rows["f4"].target.key == "End"
    assert Node.objects.filter(version=version).count() == 4  # the old Py node is gone


def test_a_draft_save_rewrites_only_the_nodes_and_edges_that_changed(tenant_a, alice, django_assert_max_num_queries):
    nodes = [
        *linear_nodes(
            {"id": "A", "kind": "python", "name": "A", "registry": "flowyard.noop"},
            {"id": "B", "kind": "transform", "name": "B", "expression": "@"},
        )
    ]
    topology = make_topology(tenant_a, alice, xml=build_bpmn(nodes, chain(nodes)))
    version = first_version(topology)
    before = {n.key: n.pk for n in Node.objects.filter(version=version)}
    edges_before = set(Edge.objects.filter(version=version).values_list("pk", flat=True))
    # Rename A, drop B (its flows go with it), add C with a new flow, keep Start and End untouched.
    changed = [
        nodes[0],
        {"id": "A", "kind": "python", "name": "A renamed", "registry": "flowyard.noop", "prefetch": 3},
        {"id": "C", "kind": "transform", "name": "C", "expression": "x"},
        nodes[-1],
    ]
    with django_assert_max_num_queries(25):
        services.topology_version_save(version=version, bpmn_xml=build_bpmn(changed, chain(changed)), actor=alice)
    after = {n.key: n for n in Node.objects.filter(version=version)}
    assert set(after) == {"Start", "A", "C", "End"}
    # Unchanged and changed nodes keep their rows (whatever points at them stays valid); C is new.
    assert {k: after[k].pk for k in ("Start", "A", "End")} == {k: before[k] for k in ("Start", "A", "End")}
    assert after["A"].name == "A renamed" and after["A"].prefetch == 3 and after["C"].config == {"expression": "x"}
    flows = {
        (e.source.key, e.target.key): e.pk
        for e in Edge.objects.filter(version=version).select_related("source", "target")
    }
    assert set(flows) == {("Start", "A"), ("A", "C"), ("C", "End")}
    assert flows[("Start", "A")] in edges_before  # an unchanged flow keeps its row
    assert flows[("A", "C")] not in edges_before and flows[("C", "End")] not in edges_before
    # The rows match what a fresh derive of the same diagram gives.
    fresh = make_topology(tenant_a, alice, name="Fresh", xml=build_bpmn(changed, chain(changed)))
    fields = ("key", "name", "kind", "config", "install_id", "ordered", "prefetch", "retry")
    assert sorted(Node.objects.filter(version__topology=fresh).values_list(*fields)) == sorted(
        Node.objects.filter(version=version).values_list(*fields)
    )
    edge_fields = ("key", "source__key", "target__key", "condition", "is_default", "name")
    assert sorted(Edge.objects.filter(version__topology=fresh).values_list(*edge_fields)) == sorted(
        Edge.objects.filter(version=version).values_list(*edge_fields)
    )


def test_foreign_install_is_not_linked(tenant_a, tenant_b, alice):
    foreign = make_install(tenant_b, "Theirs")
    nodes = linear_nodes({"id": "C", "kind": "connector", "name": "C", "install": foreign.pk, "path": "/x"})
    topology = make_topology(tenant_a, alice, xml=build_bpmn(nodes, chain(nodes)))
    node = Node.objects.get(version__topology=topology, key="C")
    assert node.install is None
    assert [e["field"] for e in first_version(topology).errors] == ["install"]


def test_draft_with_errors_is_saved_but_cannot_be_published(tenant_a, alice):
    topology = make_topology(tenant_a, alice, xml=invalid_xml())
    version = first_version(topology)
    assert [e["field"] for e in version.errors] == ["expression"]
    with pytest.raises(ServiceError) as info:
        services.topology_version_publish(version=version, actor=alice)
    assert info.value.errors[0]["element_id"] == "T"
    version.refresh_from_db()
    assert version.status == "draft" and version.published_at is None


def test_unchanged_xml_creates_nothing(tenant_a, alice, django_assert_max_num_queries):
    topology = make_topology(tenant_a, alice)
    version = first_version(topology)
    services.topology_version_publish(version=version, actor=alice)
    with django_assert_max_num_queries(0):
        same = services.topology_version_save(version=version, bpmn_xml=version.bpmn_xml, actor=alice)
    assert same.pk == version.pk
    assert TopologyVersion.objects.filter(topology=topology).count() == 1


def test_editing_a_published_version_makes_a_new_draft(tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    v1 = services.topology_version_publish(version=first_version(topology), actor=alice)
    v2 = services.topology_version_save(version=v1, bpmn_xml=valid_xml("Renamed"), actor=alice)
    assert (v2.number, v2.status) == (2, "draft")
    v1.refresh_from_db()
    assert v1.status == "published" and "Renamed" not in v1.bpmn_xml
    assert Node.objects.get(version=v1, key="Py").name == "Echo"
    assert Node.objects.get(version=v2, key="Py").name == "Renamed"
    # saving the draft again updates it in place
    v2b = services.topology_version_save(version=v2, bpmn_xml=valid_xml("Again"), actor=alice)
    assert v2b.pk == v2.pk and TopologyVersion.objects.filter(topology=topology).count() == 2


def test_bad_xml_stores_nothing(tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    version = first_version(topology)
    before = (version.bpmn_xml, Node.objects.filter(version=version).count())
    with pytest.raises(BpmnError):
        services.topology_version_save(version=version, bpmn_xml="<bpmn:definitions", actor=alice)
    version.refresh_from_db()
    assert (version.bpmn_xml, Node.objects.filter(version=version).count()) == before


def test_enable_needs_a_published_version_and_disables_the_previous(
    tenant_a, alice, django_capture_on_commit_callbacks
):
    topology = make_topology(tenant_a, alice)
    v1 = first_version(topology)
    with pytest.raises(ServiceError, match="Publish"):
        services.topology_version_enable(version=v1, actor=alice)
    v1 = services.topology_version_publish(version=v1, actor=alice)
    services.topology_version_enable(version=v1, actor=alice)
    v2 = services.topology_version_publish(
        version=services.topology_version_save(version=v1, bpmn_xml=valid_xml("Two"), actor=alice), actor=alice
    )
    with django_capture_on_commit_callbacks() as callbacks:
        services.topology_version_enable(version=v2, actor=alice)
    assert len(callbacks) == 1
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert not v1.enabled and v2.enabled and v2.enabled_at is not None
    assert list(TopologyVersion.objects.filter(topology=topology, enabled=True)) == [v2]
    with django_capture_on_commit_callbacks() as callbacks:  # enabling again is a no-op: no hook
        services.topology_version_enable(version=v2, actor=alice)
    assert callbacks == []


def test_runtime_hooks_run_after_commit(tenant_a, alice, monkeypatch, django_capture_on_commit_callbacks):
    # The broker side (queues, engine broadcasts) is exercised by the runtime tests; here: what runs when.
    calls: list[tuple] = []
    monkeypatch.setattr(control, "version_started", lambda v: calls.append(("started", v.number)))
    monkeypatch.setattr(control, "version_stopped", lambda v: calls.append(("stopped", v.number)))
    topology = make_topology(tenant_a, alice)
    with django_capture_on_commit_callbacks(execute=True):
        v1 = services.topology_version_publish(version=first_version(topology), actor=alice)
        assert calls == []  # nothing runs before the commit
    with django_capture_on_commit_callbacks(execute=True):
        services.topology_version_enable(version=v1, actor=alice)
    with django_capture_on_commit_callbacks(execute=True):
        v2 = services.topology_version_save(version=v1, bpmn_xml=valid_xml("B"), actor=alice)
        v2 = services.topology_version_publish(version=v2, actor=alice)
        services.topology_version_enable(version=v2, actor=alice)
    with django_capture_on_commit_callbacks(execute=True):
        services.topology_version_disable(version=v2, actor=alice)
    assert calls == [("started", 1), ("started", 2), ("stopped", 2)]


def test_database_allows_one_enabled_version(tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    v1 = services.topology_version_publish(version=first_version(topology), actor=alice)
    v2 = services.topology_version_publish(
        version=services.topology_version_save(version=v1, bpmn_xml=valid_xml("Two"), actor=alice), actor=alice
    )
    services.topology_version_enable(version=v1, actor=alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        TopologyVersion.objects.filter(pk=v2.pk).update(enabled=True)


def test_delete_is_refused_while_processes_run_unless_forced(tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    version = services.topology_version_publish(version=first_version(topology), actor=alice)
    services.topology_version_enable(version=version, actor=alice)
    Process.objects.create(tenant=tenant_a, version=version, correlation_id="c-1", started_at=timezone.now())
    with pytest.raises(ServiceError) as info:
        services.topology_delete(topology=topology, actor=alice)
    assert info.value.reason == Refusal.CONFLICT
    topology.refresh_from_db()
    assert topology.deleted_at is None
    services.topology_delete(topology=topology, actor=alice, force=True)
    topology.refresh_from_db()
    version.refresh_from_db()
    assert topology.deleted_at is not None and not version.enabled
    assert AuditEntry.objects.get(action="topology.delete").after["forced"] is True


def test_rename_and_clone(tenant_a, alice):
    topology = make_topology(tenant_a, alice, "Orders")
    make_topology(tenant_a, alice, "Invoices")
    with pytest.raises(ServiceError):
        services.topology_rename(topology=topology, name="Invoices", actor=alice)
    services.topology_rename(topology=topology, name="Orders EU", actor=alice, description="EU shop")
    topology.refresh_from_db()
    assert (topology.name, topology.description) == ("Orders EU", "EU shop")
    clone = services.topology_clone(topology=topology, name="Orders US", actor=alice)
    assert clone.pk != topology.pk and clone.description == "EU shop"
    assert first_version(clone).bpmn_xml == first_version(topology).bpmn_xml
    assert first_version(clone).status == "draft"


def test_import_keeps_the_xml_and_finds_a_free_name(tenant_a, alice):
    make_topology(tenant_a, alice, "Orders")
    xml = valid_xml()
    version = services.topology_import(tenant=tenant_a, name="Orders", bpmn_xml=xml, actor=alice)
    assert version.topology.name == "Orders (2)"
    assert version.bpmn_xml == xml and version.number == 1


def test_diff_lists_added_removed_and_changed_nodes(tenant_a, alice):
    a_nodes = linear_nodes(
        {"id": "T", "kind": "transform", "name": "Map", "expression": "a"},
        {"id": "Old", "kind": "python", "name": "Old", "registry": "flowyard.noop"},
    )
    b_nodes = linear_nodes(
        {"id": "T", "kind": "transform", "name": "Map v2", "expression": "b"},
        {"id": "New", "kind": "python", "name": "New", "registry": "flowyard.noop"},
    )
    topology = make_topology(tenant_a, alice, xml=build_bpmn(a_nodes, chain(a_nodes)))
    v1 = services.topology_version_publish(version=first_version(topology), actor=alice)
    v2 = services.topology_version_save(version=v1, bpmn_xml=build_bpmn(b_nodes, chain(b_nodes)), actor=alice)
    diff = version_compare(topology=v1.topology, a=v1.number, b=v2.number)
    assert diff["added"] == [{"key": "New", "name": "New", "kind": "python"}]
    assert diff["removed"] == [{"key": "Old", "name": "Old", "kind": "python"}]
    changed = {c["key"]: {f["field"]: (f["before"], f["after"]) for f in c["fields"]} for c in diff["changed"]}
    assert changed["T"] == {"name": ("Map", "Map v2"), "config.expression": ("a", "b"), "edges": (["Old"], ["New"])}
    assert set(changed) == {"T"}  # untouched nodes are not listed
    assert version_compare(topology=v1.topology, a=v1.number, b=v1.number)["same"] is True


def test_seed_is_idempotent_and_enables_the_example(tenant_a, alice):
    seed_example_topology(tenant=tenant_a, actor=alice)
    seed_example_topology(tenant=tenant_a, actor=alice)
    topology = Topology.objects.get(tenant=tenant_a, name=EXAMPLE_NAME)
    version = TopologyVersion.objects.get(topology=topology)
    assert version.status == "published" and version.enabled and version.errors == []
    assert "bpmndi:BPMNDiagram" in version.bpmn_xml
    assert Node.objects.get(version=version, kind="python").config["registry"] == "flowyard.noop"
