"""Tenant isolation of every topology page and endpoint: bob gets 404 on alice's objects, charlie (no tenant)
is redirected (pages) or refused (API), and list endpoints never show another tenant's rows."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.topology.factories import first_version, make_install, make_topology, valid_xml
from topology import services
from topology.models import Topology, TopologyVersion

COVERED_URL_NAMES = {
    "topology_list",
    "topology_create",
    "topology_import",
    "topology_detail",
    "topology_rename",
    "topology_clone",
    "topology_delete",
    "topology_versions",
    "topology_version_diff",
    "topology_editor",
    "topology_version_export",
    "topology_version_publish",
    "topology_version_enable",
    "topology_version_disable",
    "api_topology_list",
    "api_topology_import",
    "api_topology_detail",
    "api_version_list",
    "api_version_detail",
    "api_version_xml",
    "api_version_publish",
    "api_version_enable",
    "api_version_disable",
    "api_version_diff",
    "api_version_export",
    "api_node_registry",
    "install_options",
}

# (url name, method, needs version number, query string)
OBJECT_PAGES = [
    ("topology_detail", "get", False, ""),
    ("topology_rename", "get", False, ""),
    ("topology_rename", "post", False, ""),
    ("topology_clone", "post", False, ""),
    ("topology_delete", "post", False, ""),
    ("topology_versions", "get", False, ""),
    ("topology_version_diff", "get", False, "?a=1&b=1"),
    ("topology_editor", "get", True, ""),
    ("topology_version_export", "get", True, ""),
    ("topology_version_publish", "post", True, ""),
    ("topology_version_enable", "post", True, ""),
    ("topology_version_disable", "post", True, ""),
]
OBJECT_API = [
    ("api_topology_detail", "get", False, ""),
    ("api_topology_detail", "patch", False, ""),
    ("api_topology_detail", "delete", False, ""),
    ("api_version_list", "get", False, ""),
    ("api_version_diff", "get", False, "?a=1&b=1"),
    ("api_version_detail", "get", True, ""),
    ("api_version_xml", "get", True, ""),
    ("api_version_xml", "put", True, ""),
    ("api_version_publish", "post", True, ""),
    ("api_version_enable", "post", True, ""),
    ("api_version_disable", "post", True, ""),
    ("api_version_export", "get", True, ""),
]


def url_for(name: str, topology: Topology, with_number: bool, query: str) -> str:
    args = [topology.pk, 1] if with_number else [topology.pk]
    return reverse(name, args=args) + query


def call(client: Client, method: str, url: str):
    if method == "get":
        return client.get(url)
    payload = {"name": "Stolen", "force": "on", "bpmn_xml": valid_xml("Stolen")}
    if method == "post" and not url.startswith("/api/"):
        return client.post(url, payload)  # pages take form posts
    return getattr(client, method)(url, data=json.dumps(payload), content_type="application/json")


@pytest.fixture
def alices_topology(tenant_a, alice):
    topology = make_topology(tenant_a, alice, "Alice orders")
    services.topology_version_publish(version=first_version(topology), actor=alice)
    return topology


def assert_untouched(topology: Topology) -> None:
    topology.refresh_from_db()
    version = first_version(topology)
    assert topology.name == "Alice orders" and topology.deleted_at is None
    assert version.status == "published" and not version.enabled and "Stolen" not in version.bpmn_xml
    assert TopologyVersion.objects.filter(topology=topology).count() == 1
    assert not Topology.objects.filter(name__icontains="Stolen").exists()


# One test per client walks every endpoint: users are slow to create, endpoints are cheap to call.
@pytest.mark.django_db
def test_other_tenant_gets_404_everywhere(bob_client, alices_topology):
    for name, method, with_number, query in OBJECT_PAGES + OBJECT_API:
        response = call(bob_client, method, url_for(name, alices_topology, with_number, query))
        assert response.status_code == 404, (name, method, response.status_code)
        assert_untouched(alices_topology)


@pytest.mark.django_db
def test_no_tenant_is_redirected_on_pages(charlie_client, alices_topology):
    for name, method, with_number, query in OBJECT_PAGES:
        response = call(charlie_client, method, url_for(name, alices_topology, with_number, query))
        assert response.status_code == 302, (name, method, response.status_code)
        assert response["Location"] == reverse("tenant_create")
        assert_untouched(alices_topology)


@pytest.mark.django_db
def test_no_tenant_is_refused_by_the_api(charlie_client, alices_topology):
    for name, method, with_number, query in OBJECT_API:
        response = call(charlie_client, method, url_for(name, alices_topology, with_number, query))
        assert response.status_code == 403, (name, method, response.status_code)
        assert_untouched(alices_topology)


@pytest.mark.django_db
def test_owner_reaches_every_endpoint(alice_client, alices_topology):
    # The 404s above mean something only if the same URLs work for their owner.
    for name, method, with_number, query in OBJECT_PAGES + OBJECT_API:
        if method == "get":
            response = alice_client.get(url_for(name, alices_topology, with_number, query))
            assert response.status_code == 200, (name, response.status_code)


@pytest.mark.django_db
def test_tenant_pages_without_object(charlie_client, bob_client, alices_topology):
    for name in ("topology_list", "topology_create", "topology_import"):
        assert charlie_client.get(reverse(name))["Location"] == reverse("tenant_create")
        page = bob_client.get(reverse(name))
        assert page.status_code == 200 and b"Alice orders" not in page.content


@pytest.mark.django_db
def test_lists_and_lookups_are_scoped(bob_client, charlie_client, alices_topology, tenant_a, tenant_b):
    make_install(tenant_a, "Alice shop")
    bobs = make_install(tenant_b, "Bob shop")
    assert bob_client.get(reverse("api_topology_list")).json() == []
    assert bob_client.get(reverse("install_options")).json() == [
        {"id": bobs.pk, "name": "Bob shop", "application": "Generic HTTP"}
    ]
    assert bob_client.get(reverse("api_node_registry")).status_code == 200
    for name in ("api_topology_list", "install_options", "api_node_registry"):
        assert charlie_client.get(reverse(name)).status_code == 403
    assert Client().get(reverse("api_topology_list")).status_code in (401, 403)
    assert Client().get(reverse("topology_list")).status_code == 302


@pytest.mark.django_db
def test_import_lands_in_the_importers_tenant(bob_client, charlie_client, alices_topology, tenant_b):
    response = bob_client.post(
        reverse("api_topology_import"),
        {"name": "Alice orders", "bpmn_xml": valid_xml()},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Topology.objects.get(pk=response.json()["topology"]["id"]).tenant == tenant_b
    refused = charlie_client.post(
        reverse("api_topology_import"), {"name": "X", "bpmn_xml": valid_xml()}, content_type="application/json"
    )
    assert refused.status_code == 403


@pytest.mark.django_db
def test_connector_cannot_use_another_tenants_install(bob_client, tenant_a, tenant_b, bob):
    alices = make_install(tenant_a, "Alice shop")
    topology = make_topology(tenant_b, bob, "Bob flow")
    xml = valid_xml().replace(
        'flowyard:kind="python"', f'flowyard:kind="connector" flowyard:install="{alices.pk}" flowyard:path="/x"'
    )
    saved = bob_client.put(
        reverse("api_version_xml", args=[topology.pk, 1]),
        json.dumps({"bpmn_xml": xml}),
        content_type="application/json",
    ).json()
    assert any(e["field"] == "install" for e in saved["errors"])
    assert first_version(topology).nodes.get(key="Py").install is None
