"""Process API robustness: filters and pagination refuse bad values with a 400; start bodies must be JSON objects,
refused alike by the REST API, the webhook and the start page, before anything is created or published."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from admin_ui.errors import Refusal, ServiceError
from processes.models import Process
from processes.services import process_start
from tests.topology.runtime_factories import enabled_without_queues
from topology.webhooks import webhook_create

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def version(tenant_a):
    return enabled_without_queues(tenant_a, "start.webhook")


@pytest.fixture
def process(tenant_a, version):
    return Process.objects.create(
        tenant=tenant_a, version=version, correlation_id="corr-1", started_at=timezone.now(), total=1
    )


@pytest.mark.parametrize(
    "query",
    [
        {"topology": "99999999999999999999"},
        {"topology": "²"},
        {"topology": "abc"},
        {"status": "bogus"},
        {"range": "2y"},
        {"since": "yesterday"},
        {"limit": "9223372036854775808"},
        {"limit": "0"},
        {"limit": "²"},
        {"offset": "9223372036854775808"},
        {"offset": "-1"},
    ],
)
def test_bad_list_filters_are_400(alice_client, process, query):
    response = alice_client.get(reverse("api_process_list"), query)
    assert response.status_code == 400, response.content
    assert set(query) <= set(response.json()["errors"])


def test_list_filters_and_paginates(alice_client, process, version):
    url = reverse("api_process_list")
    body = alice_client.get(url, {"topology": version.topology_id, "status": "in_progress", "range": "1h"}).json()
    assert body["count"] == 1 and body["results"][0]["correlation_id"] == "corr-1"
    assert set(body) == {"count", "next", "previous", "results"}
    assert alice_client.get(url, {"status": "success"}).json()["count"] == 0
    assert alice_client.get(url, {"topology": version.topology_id + 1}).json()["count"] == 0
    assert alice_client.get(url, {"limit": "500", "offset": "1"}).json()["results"] == []


def test_list_page_shows_filter_errors(alice_client, process):
    response = alice_client.get(reverse("process_list"), {"topology": "²", "status": "in_progress"})
    assert response.status_code == 200
    assert b'data-testid="filter-errors"' in response.content and b"corr-1" in response.content


def test_malformed_process_id_is_json_404(alice_client):
    response = alice_client.get("/api/processes/abc/")
    assert response.status_code == 404 and response.json()["detail"] == "Not found."


BAD_BODIES = {
    "nested": ("[" * 1000, "nested deeper"),
    "array": ("[1, 2]", "must be an object"),
    "scalar": ("42", "must be an object"),
    "string": ('"hello"', "must be an object"),
    "null": ("null", "must be an object"),
    "lone-surrogate": ('{"a": "\\ud800"}', "unpaired surrogates"),
    "nul": ('{"a": "x\\u0000y"}', "NUL"),
    "nul-key": ('{"\\u0000": 1}', "NUL"),
    "invalid": ("{oops", "not valid JSON"),
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_start_bodies_are_refused_alike_by_api_webhook_and_page(alice_client, version, name):
    body, message = BAD_BODIES[name]
    api = alice_client.post(reverse("api_topology_start", args=["orders"]), body, content_type=JSON)
    assert api.status_code == 400 and message in api.json()["detail"], api.content

    _, token = webhook_create(topology=version.topology, node_key="start")
    hook = Client().post(reverse("webhook_start", args=[token]), body, content_type=JSON)
    assert hook.status_code == 400 and hook.json() == api.json()

    page = alice_client.post(reverse("topology_start", args=[version.topology_id]), {"payload": body})
    assert page.status_code == 400 and message.encode() in page.content
    assert not Process.objects.filter(version=version).exists()


@pytest.mark.parametrize("body", ['{"a": "\ud800"}', {"a": "\ud800"}, ["not", "an", "object"], 7])
def test_start_service_refuses_what_the_api_refuses(version, body):
    # Cron and event starts hand Python values or text to the same check; a raw lone surrogate must not crash it.
    with pytest.raises(ServiceError) as info:
        process_start(version=version, body=body)
    assert info.value.reason == Refusal.INVALID and info.value.errors["body"]
    assert not Process.objects.filter(version=version).exists()


def test_webhook_errors_use_the_api_error_shape(version):
    response = Client().post(reverse("webhook_start", args=["nope"]), json.dumps({}), content_type=JSON)
    assert response.status_code == 404
    assert response.json() == {"detail": "Unknown or revoked webhook.", "errors": {}}


def test_since_and_until_accept_any_iso_offset(alice_client, process):
    # PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows; the filter compares in UTC.
    url = reverse("api_process_list")
    response = alice_client.get(url, {"since": "2000-02-10T12:15:38+21:03", "until": "2999-01-01T00:00:00-23:59"})
    assert response.status_code == 200 and response.json()["count"] == 1
    early = alice_client.get(url, {"since": "0001-01-01T00:00:00+05:00"})
    assert early.status_code == 400 and "since" in early.json()["errors"]
