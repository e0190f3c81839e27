"""Tenant isolation of the process pages and API (runtime work): another tenant's objects are 404."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from admin_ui.models import Role
from processes.models import Process
from tests.topology.runtime_factories import make_runtime_version
from topology.models import TopologyVersion

COVERED_URL_NAMES = {
    "process_list",
    "process_detail",
    "process_terminate",
    "topology_start",
    "api_topology_start",
    "api_process_list",
    "api_process_detail",
    "api_process_terminate",
}

pytestmark = pytest.mark.django_db


def make_process(tenant, name):
    version = make_runtime_version(
        tenant, {"start": "start.manual", "end": "end"}, ["start>end"], name=name, enable=False
    )
    TopologyVersion.objects.filter(pk=version.pk).update(enabled=True)
    return Process.objects.create(
        tenant=tenant, version=version, correlation_id=f"corr-{name}", started_at=timezone.now(), total=1
    )


@pytest.fixture
def processes(tenant_a, tenant_b):
    return make_process(tenant_a, "alpha"), make_process(tenant_b, "bravo")


def test_process_list_shows_only_own_tenant(alice_client, processes):
    response = alice_client.get(reverse("process_list"))
    assert response.status_code == 200
    assert b"corr-alpha" in response.content and b"corr-bravo" not in response.content
    api = alice_client.get(reverse("api_process_list")).json()
    assert [p["correlation_id"] for p in api["results"]] == ["corr-alpha"]


def test_other_tenants_process_is_404(alice_client, processes):
    _, theirs = processes
    assert alice_client.get(reverse("process_detail", args=[theirs.pk])).status_code == 404
    assert alice_client.get(reverse("process_terminate", args=[theirs.pk])).status_code == 404
    assert alice_client.post(reverse("process_terminate", args=[theirs.pk])).status_code == 404
    assert alice_client.get(reverse("api_process_detail", args=[theirs.pk])).status_code == 404
    assert alice_client.post(reverse("api_process_terminate", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Process.Status.IN_PROGRESS


def test_other_tenants_topology_cannot_be_started(alice_client, processes):
    _, theirs = processes
    topology = theirs.version.topology
    assert alice_client.get(reverse("topology_start", args=[topology.pk])).status_code == 404
    assert alice_client.post(reverse("topology_start", args=[topology.pk]), {"payload": "{}"}).status_code == 404
    response = alice_client.post(
        reverse("api_topology_start", args=[topology.name]), data="{}", content_type="application/json"
    )
    assert response.status_code == 404
    assert Process.objects.filter(version=theirs.version).count() == 1


def test_own_pages_render(alice_client, processes):
    mine, _ = processes
    assert alice_client.get(reverse("process_detail", args=[mine.pk])).status_code == 200
    assert alice_client.get(reverse("process_terminate", args=[mine.pk])).status_code == 200
    assert alice_client.get(reverse("topology_start", args=[mine.version.topology_id])).status_code == 200
    assert alice_client.get(reverse("api_process_detail", args=[mine.pk])).json()["correlation_id"] == "corr-alpha"


def test_no_tenant_is_redirected_or_refused(charlie_client, processes):
    mine, _ = processes
    for name, args in [
        ("process_list", []),
        ("process_detail", [mine.pk]),
        ("process_terminate", [mine.pk]),
        ("topology_start", [mine.version.topology_id]),
    ]:
        response = charlie_client.get(reverse(name, args=args))
        assert response.status_code == 302 and response["Location"] == reverse("tenant_create"), name
    assert charlie_client.get(reverse("api_process_list")).status_code == 403
    assert charlie_client.get(reverse("api_process_detail", args=[mine.pk])).status_code == 403
    assert charlie_client.post(reverse("api_process_terminate", args=[mine.pk])).status_code == 403
    response = charlie_client.post(
        reverse("api_topology_start", args=["alpha"]), data="{}", content_type="application/json"
    )
    assert response.status_code == 403


def test_viewer_cannot_start_or_terminate(member_client, processes):
    mine, _ = processes
    viewer = member_client(Role.VIEWER)
    assert viewer.get(reverse("process_detail", args=[mine.pk])).status_code == 200
    assert viewer.post(reverse("process_terminate", args=[mine.pk])).status_code == 403
    assert viewer.get(reverse("topology_start", args=[mine.version.topology_id])).status_code == 403
    assert viewer.post(reverse("api_process_terminate", args=[mine.pk])).status_code == 403
    mine.refresh_from_db()
    assert mine.status == Process.Status.IN_PROGRESS


def test_topology_page_shows_start_button(alice_client, processes):
    mine, _ = processes
    response = alice_client.get(reverse("topology_detail", args=[mine.version.topology_id]))
    assert response.status_code == 200
    assert reverse("topology_start", args=[mine.version.topology_id]).encode() in response.content
