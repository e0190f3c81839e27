"""The REST start's lane (`processes.api_lane`): an API token's `POST /api/topologies/<name>/start` through the web
process's ASGI application answers as the DRF view does (its status, body and headers that matter), refuses what
it refuses in the same order, checks the token and its creator's role on every request, and hands every other
caller (no token, a session with CSRF, another renderer) to Django's stack."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from admin_ui import services as accounts
from admin_ui.models import Membership, Role
from processes.api import TopologyStartApi
from processes.models import Process
from tests.admin_ui.factories import bearer, make_token
from tests.factories import make_member
from tests.processes.lane_support import JSON, broker_unreachable, lane_call, lane_request
from tests.processes.test_api import BAD_BODIES
from tests.topology.runtime_factories import enabled_without_queues
from topology.models import TopologyVersion

pytestmark = pytest.mark.django_db

URL = "/api/topologies/orders/start"


@pytest.fixture
def version(tenant_a):
    return enabled_without_queues(tenant_a, "start.manual")


@pytest.fixture
def key(tenant_a, alice) -> str:
    return make_token(tenant_a, ["start"], creator=alice).key


def lane(key: str, body: bytes = b"{}", path: str = URL, **headers: str) -> tuple[int, dict[bytes, bytes], Any]:
    """A start through the ASGI application with the Bearer `key`; the answer's body parsed."""
    status, answered, content = lane_call(path, body, headers={"authorization": f"Bearer {key}", **headers})
    return status, answered, json.loads(content)


def view(key: str, body: bytes = b"{}", path: str = URL, content_type: str = JSON) -> Any:
    """The same start through Django's stack and the DRF view (the test client)."""
    return Client().post(path, body, content_type=content_type, **bearer(key))


def test_the_lane_answers_202_as_the_view_and_django_is_not_involved(version, key, monkeypatch):
    status, headers, body = lane(key)
    assert status == 202 and set(body) == {"correlation_id", "status"} and body["status"] == "in_progress"
    expected = view(key)
    assert expected.status_code == 202 and set(expected.json()) == set(body)
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"x-content-type-options"] == b"nosniff" and headers[b"referrer-policy"] == b"same-origin"

    def not_here(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the DRF view ran")

    monkeypatch.setattr(TopologyStartApi, "post", not_here)
    assert lane(key)[0] == 202


def test_the_202_is_the_views_bytes(version, key):
    _, _, content = lane_call(URL, headers={"authorization": f"Bearer {key}"})
    correlation_id = json.loads(content)["correlation_id"]
    assert content == b'{"correlation_id":"%s","status":"in_progress"}' % correlation_id.encode()


def test_a_cached_start_costs_one_query_the_token_with_its_creators_role(version, key, django_assert_num_queries):
    assert lane(key)[0] == 202
    with django_assert_num_queries(1):
        assert lane(key)[0] == 202


def test_concurrent_starts_share_one_token_query_and_one_lookup_of_the_topology(
    version, key, django_assert_max_num_queries
):
    async def burst() -> list[int]:
        calls = [lane_request(URL, headers={"authorization": f"Bearer {key}"}) for _ in range(20)]
        return [status for status, _, _ in await asyncio.gather(*calls)]

    # One token query for the twenty (they wait together), its last-used write, and one lookup of the name (the
    # topology, its enabled version, its start nodes, the version's spec). One by one: 20 + 1 + 100 and more.
    with django_assert_max_num_queries(7):
        assert async_to_sync(burst)() == [202] * 20


def test_a_batch_answers_each_request_for_its_own_token(version, tenant_a, tenant_b, alice, bob, settings):
    settings.FLOWYARD_API_TOKEN_RATE = "2/min"
    viewer = make_member(tenant_a, Role.VIEWER, "vida@example.com")
    keys = [
        key := make_token(tenant_a, ["start"], creator=alice).key,
        make_token(tenant_b, ["start"], creator=bob).key,
        make_token(tenant_a, ["start"], creator=viewer).key,
        "fy_nope",
        key,
        key,
    ]

    async def together() -> list[int]:
        calls = [lane_request(URL, headers={"authorization": f"Bearer {k}"}) for k in keys]
        return [status for status, _, _ in await asyncio.gather(*calls)]

    # In order: 202; another tenant's 404; a viewer's 403; 401; the token's second request 202, its third 429.
    assert async_to_sync(together)() == [202, 404, 403, 401, 202, 429]


def test_another_tenants_topology_is_404(version, tenant_b, bob):
    other = make_token(tenant_b, ["start"], creator=bob).key
    status, _, body = lane(other)
    assert status == 404 and body == {"detail": "Unknown topology 'orders'.", "errors": {}}
    assert view(other).json() == body


def test_a_viewers_token_and_a_token_without_the_start_scope_are_403(version, tenant_a, alice):
    viewer = make_member(tenant_a, Role.VIEWER, "vera@example.com")
    for token in (make_token(tenant_a, ["start"], creator=viewer), make_token(tenant_a, ["read", "write"])):
        status, _, body = lane(token.key)
        assert status == 403 and body == {"detail": "Your role or token scope does not allow this.", "errors": {}}
        assert view(token.key).json() == body


def test_a_demoted_creator_loses_access_at_once(version, tenant_a):
    operator = make_member(tenant_a, Role.OPERATOR, "otto@example.com")
    token = make_token(tenant_a, ["start"], creator=operator).key
    assert lane(token)[0] == 202
    Membership.objects.filter(user=operator, tenant=tenant_a).update(role=Role.VIEWER)  # no cache is told
    assert lane(token)[0] == 403


def test_revoked_unknown_and_orphaned_tokens_are_401(version, tenant_a, alice):
    revoked = make_token(tenant_a, ["start"], creator=alice)
    assert lane(revoked.key)[0] == 202
    accounts.api_token_revoke(token=revoked.token, actor=alice)
    operator = make_member(tenant_a, Role.OPERATOR, "olga@example.com")
    orphan = make_token(tenant_a, ["start"], creator=operator).key
    Membership.objects.filter(user=operator).delete()
    for key, detail in (
        (revoked.key, "Invalid or revoked API token."),
        ("fy_nope", "Invalid or revoked API token."),
        (orphan, "This token's creator is no longer a member of the tenant."),
    ):
        status, headers, body = lane(key)
        assert status == 401 and body == {"detail": detail, "errors": {}}
        assert headers[b"www-authenticate"] == b"Bearer"
        assert view(key).json() == body


def test_the_token_rate_is_429_with_retry_after(version, tenant_a, alice, settings):
    settings.FLOWYARD_API_TOKEN_RATE = "2/min"
    key = make_token(tenant_a, ["start"], creator=alice).key
    assert [lane(key)[0] for _ in range(3)] == [202, 202, 429]
    status, headers, body = lane(key)
    assert status == 429 and 0 < int(headers[b"retry-after"]) <= 60
    assert body == {
        "detail": f"Request was throttled. Expected available in {int(headers[b'retry-after'])} seconds.",
        "errors": {},
    }
    refused = view(key)  # the view counts on the same counter
    assert refused.status_code == 429 and refused.json()["detail"].startswith("Request was throttled.")
    assert lane(make_token(tenant_a, ["start"], creator=alice).key)[0] == 202  # per token


def test_a_refused_permission_is_not_counted(version, tenant_a, settings):
    settings.FLOWYARD_API_TOKEN_RATE = "1/min"
    viewer = make_member(tenant_a, Role.VIEWER, "vic@example.com")
    key = make_token(tenant_a, ["start"], creator=viewer).key
    assert [lane(key)[0] for _ in range(3)] == [403, 403, 403]  # DRF checks permissions before the throttle


def test_oversized_bodies_are_413_before_the_token_is_read(version, key, settings, django_assert_num_queries):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64
    body = json.dumps({"x": "y" * 100}).encode()
    middleware = view(key, body)
    assert middleware.status_code == 413
    with django_assert_num_queries(0):
        for chunks in (1, 4):  # declared, then chunked without a length
            status, _, content = lane_call(URL, body, chunks=chunks, headers={"authorization": f"Bearer {key}"})
            assert status == 413 and json.loads(content) == middleware.json()


def test_a_payload_over_the_start_limit_is_413_as_the_view(version, key, settings):
    settings.FLOWYARD_MAX_PAYLOAD_BYTES = 10
    status, _, body = lane(key, json.dumps({"x": "y" * 50}).encode())
    assert status == 413 and body == view(key, json.dumps({"x": "y" * 50}).encode()).json()


def test_bad_bodies_are_refused_with_the_views_answers(version, key):
    for text, message in BAD_BODIES.values():
        status, _, body = lane(key, text.encode())
        assert status == 400 and message in body["detail"]
        assert body == view(key, text.encode()).json()


def test_any_content_type_is_taken_as_the_view_takes_it(version, key):
    # The body is the payload whatever the Content-Type says: text is started, a form is not JSON.
    assert lane(key, b'{"a": 1}', **{"content-type": "text/plain"})[0] == 202
    status, _, body = lane(key, b"a=b", **{"content-type": "application/x-www-form-urlencoded"})
    form = view(key, b"a=b", content_type="application/x-www-form-urlencoded")
    assert status == 400 and body == form.json()


def test_the_start_node_is_chosen_with_node(version, key):
    assert lane(key, path=f"{URL}?node=start")[0] == 202
    status, _, body = lane(key, path=f"{URL}?node=end")
    assert status == 404 and body == view(key, path=f"{URL}?node=end").json()
    assert body["detail"] == "Node 'end' is not a start node of this version."


def test_a_disabled_topology_is_409(version, key):
    TopologyVersion.objects.filter(pk=version.pk).update(enabled=False)
    status, _, body = lane(key)
    assert status == 409 and body == view(key).json()


def test_no_202_and_no_row_without_the_brokers_confirm(version, key, settings):
    with broker_unreachable(settings):
        status, _, body = lane(key)
    assert status == 503
    assert body == {"detail": "The message broker is unavailable; nothing was started.", "errors": {}}
    assert not Process.objects.filter(version=version).exists()


def test_the_lane_checks_the_host_and_redirects_to_https_as_the_middleware(version, key, settings):
    status, _, body = lane(key, host="evil.example")
    assert status == 400 and body["detail"] == "Invalid Host header."
    settings.SECURE_SSL_REDIRECT = True
    status, headers, _ = lane_call(URL, headers={"authorization": f"Bearer {key}"})
    assert status == 301 and headers[b"location"] == b"https://testserver" + URL.encode()


def test_callers_without_a_token_and_other_renderers_go_to_django(version, key):
    # Django's stack answers these before any database access (the test's rows are not visible from its thread).
    status, headers, content = lane_call(URL)
    assert status == 401 and json.loads(content)["detail"] == "Authentication credentials were not provided."
    assert b"vary" in headers  # DRF's answer, not the lane's
    status, _, content = lane_call(URL, headers={"authorization": "Basic YTpi"})
    assert status == 401
    status, _, content = lane_call(URL, headers={"authorization": f"Bearer {key}", "accept": "application/xml"})
    assert status == 406 and json.loads(content)["detail"] == "Could not satisfy the request Accept header."


@pytest.mark.django_db(transaction=True)
def test_a_browser_session_with_its_csrf_token_still_starts(version, alice):
    # Committed rows (transaction=True): Django's stack reads the session and the topology on a thread of its own.
    browser = Client()
    browser.force_login(alice)
    csrf = "c" * 32  # a CSRF secret as Django's cookie holds it; the header may send it as is
    cookies = f"sessionid={browser.cookies['sessionid'].value}; csrftoken={csrf}"
    status, _, content = lane_call(URL, headers={"cookie": cookies})
    assert status == 403 and "CSRF" in json.loads(content)["detail"]
    status, _, content = lane_call(URL, headers={"cookie": cookies, "x-csrftoken": csrf})
    assert status == 202, content
