"""The start path's caches and the webhook lane: a revoked or disabled webhook and a renamed or disabled topology are
refused at once in this process and within the cache window in another one; the lane answers as Django's stack
does (the same 400s, the same 413, 405 for other methods), and without the broker's confirm there is no 202."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from processes import services
from processes.models import Process
from tests.admin_ui.factories import make_token
from tests.processes.lane_support import broker_unreachable, lane_call, lane_request
from tests.processes.test_api import BAD_BODIES
from tests.topology.runtime_factories import enabled_without_queues
from topology.models import Topology, TopologyVersion, Webhook
from topology.services import topology_rename, topology_version_disable
from topology.webhooks import webhook_create, webhook_revoke

pytestmark = pytest.mark.django_db

JSON = "application/json"
WINDOW = 1.0


@pytest.fixture
def version(tenant_a):
    return enabled_without_queues(tenant_a, "start.webhook")


@pytest.fixture
def short_window(monkeypatch):
    monkeypatch.setattr(services._webhook_targets, "seconds", WINDOW)
    monkeypatch.setattr(services._rest_targets, "seconds", WINDOW)


def hook(token: str, body: str = "{}", content_type: str = JSON) -> Any:
    return Client().post(reverse("webhook_start", args=[token]), body, content_type=content_type)


def cache(token: str) -> None:
    """Have this process look the token up and cache it (a 415 is refused after the lookup, before any publish)."""
    assert hook(token, content_type="text/plain").status_code == 415


def test_a_webhook_revoked_in_this_process_is_refused_at_once(version):
    webhook, token = webhook_create(topology=version.topology, node_key="start")
    cache(token)
    webhook_revoke(webhook=webhook)
    assert hook(token).status_code == 404


def test_a_webhook_revoked_by_another_process_is_refused_after_the_cache_window(version, short_window):
    webhook, token = webhook_create(topology=version.topology, node_key="start")
    cache(token)
    Webhook.objects.filter(pk=webhook.pk).update(revoked_at=timezone.now())  # as another web worker would
    time.sleep(WINDOW + 0.1)
    response = hook(token)
    assert response.status_code == 404 and response.json() == {"detail": "Unknown or revoked webhook.", "errors": {}}


def test_a_version_disabled_here_or_elsewhere_stops_its_webhook(
    version, alice, short_window, django_capture_on_commit_callbacks
):
    _, token = webhook_create(topology=version.topology, node_key="start")
    cache(token)
    with django_capture_on_commit_callbacks(execute=True):
        topology_version_disable(version=version, actor=alice)
    refused = {"detail": "This webhook cannot start a process now.", "errors": {}}
    assert hook(token).status_code == 409 and hook(token).json() == refused

    TopologyVersion.objects.filter(pk=version.pk).update(enabled=True)
    time.sleep(WINDOW + 0.1)
    cache(token)
    TopologyVersion.objects.filter(pk=version.pk).update(enabled=False)  # as another process would
    time.sleep(WINDOW + 0.1)
    assert hook(token).status_code == 409


def rest(tenant, name: str) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {make_token(tenant, ['start']).key}"}
    return Client(**headers).post(reverse("api_topology_start", args=[name]), "{}", content_type=JSON)


def test_a_renamed_topology_starts_by_its_new_name_only_at_once(tenant_a, alice, version):
    rest(tenant_a, "orders")  # cached before the publish (which this version without queues cannot route)
    topology_rename(topology=Topology.objects.get(pk=version.topology_id), name="invoices", actor=alice)
    assert rest(tenant_a, "orders").status_code == 404
    assert rest(tenant_a, "invoices").status_code != 404


def test_a_topology_disabled_by_another_process_refuses_rest_starts_after_the_cache_window(
    tenant_a, version, short_window
):
    rest(tenant_a, "orders")
    TopologyVersion.objects.filter(pk=version.pk).update(enabled=False)
    time.sleep(WINDOW + 0.1)
    response = rest(tenant_a, "orders")
    assert response.status_code == 409 and "no enabled version" in response.json()["detail"]


# ------------------------------------------------------------------------------------------------- the ASGI lane


def test_concurrent_requests_share_one_lookup_of_their_token(version, django_assert_max_num_queries):
    _, token = webhook_create(topology=version.topology, node_key="start")

    async def burst() -> list[int]:
        calls = [lane_request(f"/hooks/{token}", headers={"content-type": "text/plain"}) for _ in range(20)]
        return [status for status, _, _ in await asyncio.gather(*calls)]

    # One lookup: the webhook, its enabled version, its start nodes, the version's spec (nodes, edges); twenty
    # lookups would be 60 queries and more.
    with django_assert_max_num_queries(5):
        assert async_to_sync(burst)() == [415] * 20


def test_the_lane_refuses_bad_bodies_with_the_views_messages(version):
    _, token = webhook_create(topology=version.topology, node_key="start")
    for body, message in BAD_BODIES.values():
        status, _, content = lane_call(f"/hooks/{token}", body.encode())
        view = hook(token, body)
        assert status == 400 and message in json.loads(content)["detail"]
        assert json.loads(content) == view.json()


def test_the_lane_refuses_large_bodies_like_the_middleware(version, settings):
    _, token = webhook_create(topology=version.topology, node_key="start")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64
    body = json.dumps({"x": "y" * 100}).encode()
    middleware = hook(token, body.decode())
    for chunks in (1, 4):  # declared, then chunked without a length
        status, _, content = lane_call(f"/hooks/{token}", body, chunks=chunks)
        assert status == 413 and json.loads(content) == middleware.json()


def test_other_methods_and_paths_pass_the_lane_to_django():
    status, headers, content = lane_call("/hooks/whatever", b"", method="GET")
    assert status == 405 and headers[b"allow"] == b"POST" and json.loads(content)["detail"]
    status, _, _ = lane_call("/hooks/a/b")  # not the webhook's path: Django's 404
    assert status == 404


def test_the_lane_checks_the_host_and_answers_nosniff(version):
    _, token = webhook_create(topology=version.topology, node_key="start")
    status, _, content = lane_call(f"/hooks/{token}", headers={"host": "evil.example"})
    assert status == 400 and json.loads(content)["detail"] == "Invalid Host header."
    status, headers, _ = lane_call(f"/hooks/{token}", headers={"content-type": "text/plain"})
    assert status == 415 and headers[b"x-content-type-options"] == b"nosniff"


def test_no_202_without_the_brokers_confirm(version, settings):
    _, token = webhook_create(topology=version.topology, node_key="start")
    with broker_unreachable(settings):
        status, _, content = lane_call(f"/hooks/{token}")
    assert status == 503, content
    assert json.loads(content)["detail"] == "The message broker is unavailable; nothing was started."
    assert not Process.objects.filter(version=version).exists()
