"""Tenant isolation of the webhook pages and endpoints: another tenant's webhook is a 404, charlie is refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.topology.factories import make_topology
from topology.models import Webhook
from topology.webhooks import webhook_create

pytestmark = pytest.mark.django_db

COVERED_URL_NAMES = {
    "topology_webhook_rotate",
    "topology_webhook_revoke",
    "topology_webhook_signing",
    "api_webhook_list",
    "api_webhook_rotate",
    "api_webhook_revoke",
    "api_webhook_signing",
}
ACTIONS = ["rotate", "revoke", "signing"]


@pytest.fixture
def alices_hook(tenant_a, alice):
    topology = make_topology(tenant_a, alice)
    return webhook_create(topology=topology, node_key="hook")[0]


@pytest.fixture
def bobs_topology(tenant_b, bob):
    return make_topology(tenant_b, bob, name="Bob's")


@pytest.mark.parametrize("prefix", ["topology_webhook_", "api_webhook_"])
@pytest.mark.parametrize("action", ACTIONS)
def test_bob_gets_404_on_alices_webhook(bob_client, alices_hook, bobs_topology, prefix, action):
    # Through alice's topology, and through his own topology with alice's webhook id.
    for topology_pk in (alices_hook.topology_id, bobs_topology.pk):
        url = reverse(prefix + action, args=[topology_pk, alices_hook.pk])
        assert bob_client.post(url, {"signed": "on"}).status_code == 404
    hook = Webhook.objects.get(pk=alices_hook.pk)
    assert hook.revoked_at is None and not hook.signing_secret_encrypted


def test_bob_gets_404_on_alices_webhook_list(bob_client, alices_hook):
    assert bob_client.get(reverse("api_webhook_list", args=[alices_hook.topology_id])).status_code == 404


@pytest.mark.parametrize("action", ACTIONS)
def test_charlie_and_anonymous_are_refused(charlie_client, client, alices_hook, action):
    page = reverse(f"topology_webhook_{action}", args=[alices_hook.topology_id, alices_hook.pk])
    assert charlie_client.post(page).url.startswith("/tenants/new/")
    assert "/accounts/login/" in client.post(page).url
    api = reverse(f"api_webhook_{action}", args=[alices_hook.topology_id, alices_hook.pk])
    assert charlie_client.post(api, {}, content_type="application/json").status_code == 403
    assert client.post(api, {}, content_type="application/json").status_code in (401, 403)
    assert charlie_client.get(reverse("api_webhook_list", args=[alices_hook.topology_id])).status_code == 403
    assert Webhook.objects.get(pk=alices_hook.pk).revoked_at is None
