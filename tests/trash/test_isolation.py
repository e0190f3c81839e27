"""Another tenant's trash is a 404 on every page, API endpoint and bulk filter; nothing changes."""

from __future__ import annotations

import json

import pytest

from admin_ui.models import Role
from tests.admin_ui.factories import bearer, make_token
from topology.models import Node, Topology, TopologyVersion
from trash.models import TrashBulkJob, TrashMessage

COVERED_URL_NAMES = {
    "trash_list",
    "trash_detail",
    "trash_edit",
    "trash_reject",
    "trash_try",
    "trash_bulk_create",
    "trash_bulk_detail",
    "trash_bulk_cancel",
    "api_trash_list",
    "api_trash_groups",
    "api_trash_detail",
    "api_trash_resend",
    "api_trash_reject",
    "api_trash_try",
    "api_trash_history",
    "api_trash_bulk_list",
    "api_trash_bulk_detail",
    "api_trash_bulk_cancel",
}
JSON = "application/json"


def make_trash(tenant, reason="Remote answered 404 Not Found", node_key="fetch", body='{"order": 42}'):
    topology, _ = Topology.objects.get_or_create(tenant=tenant, name=f"t-{tenant.pk}-{node_key}")
    version, _ = TopologyVersion.objects.get_or_create(topology=topology, number=1, defaults={"bpmn_xml": "<x/>"})
    node, _ = Node.objects.get_or_create(
        version=version, key=node_key, defaults={"name": node_key.title(), "kind": "transform"}
    )
    return TrashMessage.objects.create(
        tenant=tenant,
        version=version,
        node=node,
        node_key=node_key,
        correlation_id="c1",
        message_id="m1",
        headers={"correlation-id": "c1"},
        body=body,
        reason=reason,
        signature=f"sig-{tenant.pk}-{node_key}",
    )


def make_job(tenant, message):
    return TrashBulkJob.objects.create(
        tenant=tenant,
        action="resend",
        group_key=message.signature,
        snapshot={str(message.pk): message.revision},
        total=1,
    )


@pytest.mark.django_db
def test_trash_list_shows_only_own_tenant(alice_client, tenant_a, tenant_b):
    make_trash(tenant_a, reason="alice failure")
    make_trash(tenant_b, reason="bob failure")
    for view in ("", "?view=groups"):
        response = alice_client.get(f"/trash/{view}")
        assert response.status_code == 200
        assert b"alice failure" in response.content
        assert b"bob failure" not in response.content


@pytest.mark.django_db
def test_trash_pages_of_other_tenant_are_404_and_change_nothing(alice_client, bob_client, tenant_a):
    message = make_trash(tenant_a)
    job = make_job(tenant_a, message)
    assert alice_client.get(f"/trash/{message.pk}/").status_code == 200
    assert alice_client.get(f"/trash/bulk/{job.pk}/").status_code == 200
    assert bob_client.get(f"/trash/{message.pk}/").status_code == 404
    assert bob_client.get(f"/trash/{message.pk}/?tab=history").status_code == 404
    assert bob_client.get(f"/trash/bulk/{job.pk}/").status_code == 404
    posts = {
        f"/trash/{message.pk}/edit/": {"body": "{}", "action": "resend"},
        f"/trash/{message.pk}/reject/": {"reason": "mine now"},
        f"/trash/{message.pk}/try/": {"body": "{}"},
        f"/trash/bulk/{job.pk}/cancel/": {},
        "/trash/bulk/": {"scope": "selected", "ids": [message.pk], "action": "reject", "reason": "x"},
    }
    for url, data in posts.items():
        assert bob_client.post(url, data).status_code == 404, url
    group = {"scope": "group", "signature": message.signature, "action": "reject", "reason": "x"}
    assert bob_client.post("/trash/bulk/", group).status_code == 404
    topology_filter = {"scope": "filter", "topology": message.version.topology_id, "action": "resend"}
    assert bob_client.post("/trash/bulk/", topology_filter).status_code == 404
    message.refresh_from_db()
    job.refresh_from_db()
    assert (message.status, message.body, message.revision) == ("open", '{"order": 42}', 1)
    assert not job.cancel_requested
    assert TrashBulkJob.objects.count() == 1


@pytest.mark.django_db
def test_trash_api_of_other_tenant_is_404_and_changes_nothing(alice_client, bob_client, tenant_a, tenant_b):
    message = make_trash(tenant_a)
    job = make_job(tenant_a, message)
    make_trash(tenant_b, reason="bob failure")
    assert alice_client.get(f"/api/trash/{message.pk}/").status_code == 200
    for url in (
        f"/api/trash/{message.pk}/",
        f"/api/trash/{message.pk}/history",
        f"/api/trash/bulk/{job.pk}/",
    ):
        assert bob_client.get(url).status_code == 404, url
    assert bob_client.patch(f"/api/trash/{message.pk}/", {"body": "{}"}, content_type=JSON).status_code == 404
    for url, data in {
        f"/api/trash/{message.pk}/resend": {},
        f"/api/trash/{message.pk}/reject": {"reason": "x"},
        f"/api/trash/{message.pk}/try": {},
        f"/api/trash/bulk/{job.pk}/cancel": {},
        "/api/trash/bulk/": {"action": "reject", "reason": "x", "ids": [message.pk]},
    }.items():
        assert bob_client.post(url, data, content_type=JSON).status_code == 404, url
    for data in (
        {"action": "resend", "signature": message.signature},
        {"action": "resend", "filters": {"topology": str(message.version.topology_id)}},
    ):
        assert bob_client.post("/api/trash/bulk/", data, content_type=JSON).status_code == 404, data
    listed = bob_client.get("/api/trash/").json()["results"]
    assert [m["reason"] for m in listed] == ["bob failure"]
    groups = bob_client.get("/api/trash/groups/").json()["results"]
    assert [g["reason"] for g in groups] == ["bob failure"]
    assert bob_client.get("/api/trash/bulk/").json() == []
    message.refresh_from_db()
    assert (message.status, message.revision) == ("open", 1)


@pytest.mark.django_db
def test_trash_token_of_other_tenant_is_404(tenant_a, tenant_b, client):
    message = make_trash(tenant_a)
    token = make_token(tenant_b, scopes=["trash"])
    assert client.get(f"/api/trash/{message.pk}/", **bearer(token)).status_code == 404
    response = client.post(f"/api/trash/{message.pk}/reject", {"reason": "x"}, content_type=JSON, **bearer(token))
    assert response.status_code == 404


@pytest.mark.django_db
def test_trash_pages_need_a_tenant(charlie_client, client, tenant_a):
    message = make_trash(tenant_a)
    for url in ("/trash/", f"/trash/{message.pk}/"):
        assert charlie_client.get(url).url.startswith("/tenants/new/")
        assert "/accounts/login/" in client.get(url).url


@pytest.mark.django_db
def test_trash_detail_pretty_prints_body_and_escapes_reason(member_client, tenant_a):
    message = make_trash(tenant_a, reason="<script>alert(1)</script>")
    response = member_client(Role.VIEWER).get(f"/trash/{message.pk}/")
    assert b"&quot;order&quot;: 42" in response.content
    assert b"<script>alert(1)</script>" not in response.content
    config = json.loads(response.content.decode().split('id="trash-config" type="application/json">')[1].split("<")[0])
    assert config["node"] == "fetch"


@pytest.mark.django_db
def test_trash_groups_identical_failures(alice_client, tenant_a):
    first = make_trash(tenant_a, node_key="fetch")
    TrashMessage.objects.create(
        tenant=tenant_a,
        version=first.version,
        node=first.node,
        node_key="fetch",
        correlation_id="c2",
        message_id="m2",
        body="{}",
        reason=first.reason,
        signature=first.signature,
    )
    response = alice_client.get("/trash/?view=groups")
    groups = list(response.context["page_obj"])
    assert len(groups) == 1
    assert groups[0]["count"] == 2
    assert groups[0]["node_name"] == "Fetch"
    assert groups[0]["first_at"] <= groups[0]["last_at"]


@pytest.mark.django_db
def test_trash_pagination_keeps_the_filters(alice_client, tenant_a):
    first = make_trash(tenant_a, reason="Remote answered 500")
    TrashMessage.objects.bulk_create(
        TrashMessage(
            tenant=tenant_a,
            version=first.version,
            node_key="fetch",
            correlation_id=f"c{n}",
            message_id=f"m{n}",
            body="{}",
            reason="Remote answered 500",
            signature=first.signature,
        )
        for n in range(60)
    )
    response = alice_client.get("/trash/", {"q": "500", "status": "open"})
    content = response.content.decode()
    assert "Page 1 of 2" in content
    assert 'href="?q=500&amp;status=open&amp;page=2"' in content
    assert len(alice_client.get("/trash/", {"q": "500", "status": "open", "page": 2}).context["page_obj"]) == 11
