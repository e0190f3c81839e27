"""An oversized JSON body answers the API's JSON 413 in every authentication mode, before CSRF reads it."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.admin_ui.factories import bearer, make_token
from topology.models import Topology

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    return json.dumps({"name": "Big", "bpmn_xml": "x" * 5000})


def session_client(user) -> tuple[Client, dict[str, str]]:
    """A browser-like session: CSRF enforced, the token read from the cookie as the editor's JS does."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("topology_list"))
    return client, {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def assert_json_413(response) -> None:
    assert response.status_code == 413, response.content[:200]
    assert response["Content-Type"] == "application/json"
    assert "larger than 2000 bytes" in response.json()["detail"]


def test_session_with_csrf(alice, small_limit):
    client, headers = session_client(alice)
    assert_json_413(client.post(reverse("api_topology_import"), small_limit, "application/json", **headers))
    assert not Topology.objects.exists()


def test_api_token(alice, tenant_a, small_limit):
    headers = bearer(make_token(tenant_a, ["write"], creator=alice))
    assert_json_413(Client().post(reverse("api_topology_import"), small_limit, "application/json", **headers))


def test_anonymous_and_webhook(small_limit):
    assert_json_413(Client().post(reverse("api_topology_import"), small_limit, "application/json"))
    assert_json_413(Client().post(reverse("webhook_start", args=["whatever"]), small_limit, "application/json"))


def test_small_bodies_pass(alice, small_limit):
    client, headers = session_client(alice)
    body = json.dumps({"name": "Small"})
    assert client.post(reverse("api_topology_list"), body, "application/json", **headers).status_code == 201
