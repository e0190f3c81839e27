"""Webhooks: URLs shown to operators and above only; rotate, revoke and signing with audit; intake refusals."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from admin_ui.models import AuditEntry, Role
from tests.admin_ui.factories import bearer, make_token
from tests.topology.factories import make_topology
from topology.models import Webhook
from topology.views import editor_config
from topology.webhooks import signature_for, webhook_create, webhook_signing_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook(tenant_a, alice):
    topology = make_topology(tenant_a, alice, name="Secret payroll sync")
    webhook, token = webhook_create(topology=topology, node_key="hook")
    return webhook, token


def hook_path(token: str) -> str:
    return reverse("webhook_start", args=[token])


@pytest.mark.parametrize("role", list(Role))
def test_webhook_urls_are_shown_to_operators_and_above_only(member_client, hook, role):
    webhook, token = hook
    client = member_client(role)
    page = client.get(reverse("topology_detail", args=[webhook.topology_id])).content.decode()
    editor = client.get(reverse("topology_editor", args=[webhook.topology_id, 1]))
    config = json.dumps(editor.context["config"]) if editor.context and "config" in editor.context else ""
    sees = role != Role.VIEWER
    assert (token in page) is sees
    assert (token in editor.content.decode() or token in config) is sees
    api = client.get(reverse("api_webhook_list", args=[webhook.topology_id]))
    assert api.status_code == (200 if sees else 403)


def test_editor_config_hides_webhooks_from_viewers(rf, member_client, hook, tenant_a):
    webhook, token = hook
    request = rf.get("/")
    request.membership = type("M", (), {"role": Role.VIEWER})()
    assert editor_config(request, webhook.topology.versions.get())["webhookUrls"] == {}
    request.membership = type("M", (), {"role": Role.OPERATOR})()
    assert token in next(iter(editor_config(request, webhook.topology.versions.get())["webhookUrls"].values()))


def test_rotate_and_revoke_on_the_page_with_audit(member_client, hook, tenant_a):
    webhook, token = hook
    client = member_client(Role.OPERATOR)
    anonymous = Client()
    rotated = client.post(reverse("topology_webhook_rotate", args=[webhook.topology_id, webhook.pk]))
    assert rotated.status_code == 302
    assert anonymous.post(hook_path(token), "{}", "application/json").status_code == 404
    new = Webhook.objects.get(topology=webhook.topology, revoked_at__isnull=True)
    assert new.pk != webhook.pk and new.node_key == "hook"
    entry = AuditEntry.objects.get(tenant=tenant_a, action="webhook.rotate")
    assert entry.before["prefix"] == token[:8] and token not in json.dumps([entry.before, entry.after])
    client.post(reverse("topology_webhook_revoke", args=[webhook.topology_id, new.pk]))
    assert Webhook.objects.filter(topology=webhook.topology, revoked_at__isnull=True).count() == 0
    assert AuditEntry.objects.filter(tenant=tenant_a, action="webhook.revoke").count() == 1


def test_viewers_cannot_rotate_revoke_or_sign(member_client, hook):
    webhook, _ = hook
    client = member_client(Role.VIEWER)
    for action in ("rotate", "revoke", "signing"):
        assert (
            client.post(reverse(f"topology_webhook_{action}", args=[webhook.topology_id, webhook.pk])).status_code
            == 403
        )
    webhook.refresh_from_db()
    assert webhook.revoked_at is None and not webhook.signing_secret_encrypted


def test_api_rotate_revoke_and_signing(tenant_a, alice, hook):
    webhook, token = hook
    headers = bearer(make_token(tenant_a, ["start"], creator=alice))
    client = Client()
    listed = client.get(reverse("api_webhook_list", args=[webhook.topology_id]), **headers).json()
    assert [row["node_key"] for row in listed] == ["hook"] and token in listed[0]["url"]
    signed = client.post(
        reverse("api_webhook_signing", args=[webhook.topology_id, webhook.pk]),
        {"signed": True},
        "application/json",
        **headers,
    )
    assert signed.status_code == 200 and signed.json()["signed"] is True and len(signed.json()["secret"]) == 64
    rotated = client.post(reverse("api_webhook_rotate", args=[webhook.topology_id, webhook.pk]), **headers).json()
    assert rotated["signed"] is True and token not in rotated["url"]
    new_id = rotated["id"]
    revoked = client.post(reverse("api_webhook_revoke", args=[webhook.topology_id, new_id]), **headers)
    assert revoked.status_code == 204
    actions = set(AuditEntry.objects.filter(tenant=tenant_a).values_list("action", flat=True))
    assert {"webhook.signing.enable", "webhook.rotate", "webhook.revoke"} <= actions


# ------------------------------------------------------------------------------------------- intake


def test_intake_refuses_missing_or_wrong_signature_with_401(hook):
    webhook, token = hook
    from topology.webhooks import webhook_signing_set

    webhook_signing_set(webhook=webhook, signed=True)
    body = b'{"order": 1}'
    client = Client()
    missing = client.post(hook_path(token), body, "application/json")
    assert missing.status_code == 401 and "X-Flowyard-Signature" in missing.json()["detail"]
    wrong = client.post(hook_path(token), body, "application/json", HTTP_X_FLOWYARD_SIGNATURE="sha256=00")
    assert wrong.status_code == 401
    other_body = signature_for(webhook_signing_secret(webhook), b"{}")
    assert (
        client.post(hook_path(token), body, "application/json", HTTP_X_FLOWYARD_SIGNATURE=other_body).status_code == 401
    )
    # The right signature passes the check; with no enabled version the start itself is then refused (409).
    right = signature_for(webhook_signing_secret(webhook), body)
    assert client.post(hook_path(token), body, "application/json", HTTP_X_FLOWYARD_SIGNATURE=right).status_code == 409


def test_intake_answers_415_for_non_json(hook):
    _, token = hook
    client = Client()
    assert client.post(hook_path(token), "a=1", "application/x-www-form-urlencoded").status_code == 415
    assert client.post(hook_path(token), "<a/>", "text/xml").status_code == 415
    assert client.post(hook_path(token), "{}", "application/vnd.api+json").status_code == 409


def test_intake_answers_name_no_topology(hook):
    _, token = hook
    client = Client()
    conflict = client.post(hook_path(token), "{}", "application/json")
    assert conflict.status_code == 409
    assert "payroll" not in conflict.content.decode().lower()
    unknown = client.post(hook_path("nope" + token), "{}", "application/json")
    assert unknown.status_code == 404 and "payroll" not in unknown.content.decode().lower()
