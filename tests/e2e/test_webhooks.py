"""Webhooks on the topology page in the browser: operators rotate and sign them; viewers never see a URL.

The page runs under the Content-Security-Policy: any inline script would be refused and reported here.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from admin_ui.models import Role
from tests.factories import make_member, make_tenant
from tests.topology.factories import make_topology
from topology.models import Webhook
from topology.webhooks import webhook_create


@pytest.mark.django_db(transaction=True)
def test_operator_rotates_and_signs_a_webhook_viewer_sees_no_url(new_page, login, screenshot):
    tenant = make_tenant("Hooks Co")
    operator = make_member(tenant, Role.OPERATOR, "operator@hooks.example.com")
    viewer = make_member(tenant, Role.VIEWER, "viewer@hooks.example.com")
    topology = make_topology(tenant, operator, name="Payments in")
    _, token = webhook_create(topology=topology, node_key="Paid")

    page = new_page()
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    login(page, operator)
    page.goto(f"/topologies/{topology.pk}/")
    card = page.get_by_test_id("webhooks")
    expect(card.get_by_test_id("webhook-url")).to_contain_text(token)
    card.get_by_role("button", name="Require a signature").click()
    expect(page.get_by_test_id("webhook-secret")).to_be_visible()
    page.get_by_test_id("webhooks").get_by_role("button", name="Rotate URL").click()
    expect(page.get_by_test_id("webhook-url")).not_to_contain_text(token)
    new = Webhook.objects.get(topology=topology, revoked_at__isnull=True)
    assert new.signing_secret_encrypted  # the secret carried over to the new URL
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "topology-webhooks-operator-390")
    page.set_viewport_size({"width": 1400, "height": 900})
    screenshot(page, "topology-webhooks-operator")
    assert violations == []

    other = new_page()
    login(other, viewer)
    other.goto(f"/topologies/{topology.pk}/")
    expect(other.get_by_test_id("topology-name")).to_have_text("Payments in")
    assert other.get_by_test_id("webhooks").count() == 0
    assert "/hooks/" not in other.content()
    screenshot(other, "topology-webhooks-viewer")
