"""The API's shared plumbing: one error shape, strict JSON input, JSON 404s, names without control characters."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from admin_ui.models import ApplicationInstall, Invitation
from tests.admin_ui.factories import make_invitation

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.mark.parametrize("path", ["/api/topologies/abc/", "/api/members/1x/", "/api/no-such-endpoint/"])
def test_unknown_api_paths_answer_json_404(alice_client, path):
    response = alice_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "errors": {}}


def test_pages_keep_the_html_404(alice_client):
    response = alice_client.get("/no-such-page/")
    assert response.status_code == 404 and not response["Content-Type"].startswith("application/json")


def test_deeply_nested_json_is_a_400_not_a_recursion_error(alice_client):
    response = alice_client.post(reverse("api_topology_list"), "[" * 1000, content_type=JSON)
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "x", "settings": {"url\\u0000": "https://example.com"}}',
        '{"name": "x", "settings": {"url": "https://example.com/\\ud800"}}',
    ],
    ids=["nul-in-key", "lone-surrogate"],
)
def test_nul_and_lone_surrogates_are_refused_anywhere_in_json(alice_client, tenant_a, body):
    payload = json.loads(body)
    payload["application"] = "http-api"
    response = alice_client.post(reverse("api-install-list"), json.dumps(payload), content_type=JSON)
    assert response.status_code == 400, response.content
    assert "NUL" in response.json()["detail"] or "surrogate" in response.json()["detail"]
    assert not ApplicationInstall.objects.filter(tenant=tenant_a).exists()


@pytest.mark.parametrize("name", ["Orders\tEU", "Orders\nEU", "Orders\x1b[31m"])
def test_control_characters_in_names_are_refused(alice_client, tenant_a, name):
    topology = alice_client.post(reverse("api_topology_list"), {"name": name}, content_type=JSON)
    assert topology.status_code == 400 and "Control characters" in topology.json()["errors"]["name"][0]
    token = alice_client.post(reverse("api-token-list"), {"name": name, "scopes": ["read"]}, content_type=JSON)
    assert token.status_code == 400 and "name" in token.json()["errors"]
    tenant = alice_client.patch(reverse("api-tenant"), {"name": name}, content_type=JSON)
    assert tenant.status_code == 400
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Acme"


def test_invalid_invitation_status_filter_is_a_400(alice_client, tenant_a, alice):
    make_invitation(tenant_a, "new@example.com")
    assert len(alice_client.get(reverse("api-invitation-list"), {"status": "all"}).json()) == 1
    response = alice_client.get(reverse("api-invitation-list"), {"status": "bogus"})
    assert response.status_code == 400 and "status" in response.json()["errors"]
    assert Invitation.objects.filter(tenant=tenant_a).count() == 1


def test_service_refusals_keep_their_field(alice_client, alice):
    me = alice.memberships.get()
    response = alice_client.patch(reverse("api-member-detail", args=[me.pk]), {"role": "viewer"}, content_type=JSON)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The last owner") and response.json()["errors"]["role"]
