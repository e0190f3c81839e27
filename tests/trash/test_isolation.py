import pytest

from admin_ui.models import Role
from topology.models import Topology, TopologyVersion
from trash.models import TrashMessage

COVERED_URL_NAMES = {"trash_list", "trash_detail"}


def make_trash(tenant, reason="Remote answered 404 Not Found", node_key="fetch"):
    topology = Topology.objects.create(tenant=tenant, name=f"t-{tenant.pk}-{node_key}")
    version = TopologyVersion.objects.create(topology=topology, number=1, bpmn_xml="<x/>")
    return TrashMessage.objects.create(
        tenant=tenant,
        version=version,
        node_key=node_key,
        correlation_id="c1",
        message_id="m1",
        headers={"correlation-id": "c1"},
        body='{"order": 42}',
        reason=reason,
        signature=f"sig-{node_key}",
    )


@pytest.mark.django_db
def test_trash_list_shows_only_own_tenant(alice_client, tenant_a, tenant_b):
    make_trash(tenant_a, reason="alice failure")
    make_trash(tenant_b, reason="bob failure")
    response = alice_client.get("/trash/")
    assert response.status_code == 200
    assert b"alice failure" in response.content
    assert b"bob failure" not in response.content


@pytest.mark.django_db
def test_trash_detail_of_other_tenant_is_404(alice_client, bob_client, tenant_a):
    message = make_trash(tenant_a)
    assert alice_client.get(f"/trash/{message.pk}/").status_code == 200
    assert bob_client.get(f"/trash/{message.pk}/").status_code == 404


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


@pytest.mark.django_db
def test_trash_groups_identical_failures(alice_client, tenant_a):
    first = make_trash(tenant_a, node_key="fetch")
    TrashMessage.objects.create(
        tenant=tenant_a,
        version=first.version,
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
