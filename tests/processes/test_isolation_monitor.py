"""Tenant isolation of the monitoring pages: the topology monitor, its JSON and node panel, the process path,
bulk actions on the process list, and the dashboard only ever show or touch the member's own tenant."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from processes.models import NodeStat, Process, ProcessEvent, ProcessPayload
from tests.topology.runtime_factories import make_runtime_version
from topology.models import TopologyVersion

COVERED_URL_NAMES = {
    "dashboard",
    "process_export",
    "process_bulk_terminate",
    "process_path",
    "process_payload",
    "topology_monitor",
    "topology_monitor_stats",
    "topology_monitor_node",
}

pytestmark = pytest.mark.django_db


def make_run(tenant, name):
    nodes = {"start": "start.manual", "work": "python", "end": "end"}
    version = make_runtime_version(tenant, nodes, ["start>work", "work>end"], name=name, enable=False)
    TopologyVersion.objects.filter(pk=version.pk).update(enabled=True)
    process = Process.objects.create(
        tenant=tenant, version=version, correlation_id=f"corr-{name}", started_at=timezone.now(), total=2, done=1
    )
    ProcessEvent.objects.create(process=process, node_key="work", message_id=f"m-{name}", started_at=timezone.now())
    ProcessPayload.objects.create(process=process, node_key="work", message_id=f"m-{name}", body_in=f"secret-{name}")
    node = version.nodes.get(key="work")
    NodeStat.objects.create(node=node, minute=timezone.now().replace(second=0, microsecond=0), processed=7, failed=2)
    return version.topology, process


@pytest.fixture
def runs(tenant_a, tenant_b):
    return make_run(tenant_a, "alpha"), make_run(tenant_b, "bravo")


def test_monitor_pages_of_another_tenant_are_404(alice_client, runs):
    (mine, _), (theirs, _) = runs
    for name, args in [
        ("topology_monitor", [theirs.pk]),
        ("topology_monitor_stats", [theirs.pk]),
        ("topology_monitor_node", [theirs.pk, "work"]),
    ]:
        assert alice_client.get(reverse(name, args=args)).status_code == 404, name
    assert alice_client.get(reverse("topology_monitor", args=[mine.pk])).status_code == 200
    stats = alice_client.get(reverse("topology_monitor_stats", args=[mine.pk])).json()
    assert stats["nodes"]["work"]["processed_hour"] == 7
    assert stats["nodes"]["work"]["state"] == "failing"
    assert alice_client.get(reverse("topology_monitor_node", args=[mine.pk, "nope"])).status_code == 404
    panel = alice_client.get(reverse("topology_monitor_node", args=[mine.pk, "work"]))
    assert b"corr-alpha" in panel.content


def test_process_path_of_another_tenant_is_404(alice_client, runs):
    (_, mine), (_, theirs) = runs
    assert alice_client.get(reverse("process_path", args=[theirs.pk])).status_code == 404
    path = alice_client.get(reverse("process_path", args=[mine.pk])).json()
    assert path["nodes"]["work"]["runs"] == 1


def test_bulk_actions_ignore_other_tenants_ids(alice_client, runs):
    (_, mine), (_, theirs) = runs
    export = alice_client.post(reverse("process_export"), {"ids": [mine.pk, theirs.pk]})
    assert export.status_code == 200
    body = export.content.decode()
    assert "corr-alpha" in body and "corr-bravo" not in body
    response = alice_client.post(reverse("process_bulk_terminate"), {"ids": [theirs.pk]})
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.status == Process.Status.IN_PROGRESS


def test_dashboard_counts_only_own_tenant(alice_client, runs):
    response = alice_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert response.context["data"]["totals"]["processed"] == 7
    assert response.context["data"]["totals"]["in_progress"] == 1
    assert b"alpha" in response.content and b"bravo" not in response.content


def test_payload_of_another_tenant_is_404(alice_client, runs):
    (_, mine), (_, theirs) = runs
    assert alice_client.get(reverse("process_payload", args=[theirs.pk, "m-bravo"])).status_code == 404
    assert alice_client.get(reverse("process_payload", args=[mine.pk, "m-bravo"])).status_code == 404
    own = alice_client.get(reverse("process_payload", args=[mine.pk, "m-alpha"]))
    assert own.status_code == 200 and b"secret-alpha" in own.content
