"""The token scope matrix, swept over every API endpoint and method, and a token's power capped by its creator."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from admin_ui import services
from admin_ui.models import ApiToken, AuditEntry, Membership, Role
from admin_ui.roles import SESSION_ONLY_ENDPOINTS, TOKEN_SCOPE_MATRIX, scope_opens
from tests.admin_ui.factories import bearer, make_token
from tests.factories import make_member

pytestmark = pytest.mark.django_db

SCOPES = [choice.value for choice in ApiToken.Scope]
# Reachable without a tenant by design: the OpenAPI schema and its viewers.
PUBLIC_API = {"api-schema", "api-docs", "api-redoc"}
ARGS = {"pk": "999999", "number": "1", "name": "no-such-topology", "webhook_id": "999999"}


def _api_endpoints(patterns=None, prefix: str = "") -> list[tuple[str, str, list[str]]]:
    """(url name, path with placeholder arguments, implemented methods) for every pattern under /api/."""
    found: list[tuple[str, str, list[str]]] = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            found += _api_endpoints(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            if not route.startswith("api/") or pattern.name in PUBLIC_API:
                continue
            view = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
            methods = [m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)]
            path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: ARGS[m.group(1)], route)
            found.append((str(pattern.name), path, methods))
    return found


ENDPOINTS = _api_endpoints()
CASES = [(name, path, method) for name, path, methods in ENDPOINTS for method in methods]


def test_the_sweep_sees_every_api_app():
    names = {name for name, _, _ in ENDPOINTS}
    assert {"api-tenant", "api_topology_list", "api_topology_start", "api_process_terminate"} <= names
    assert len(CASES) > 30


def test_every_api_endpoint_is_in_the_scope_matrix_or_session_only():
    listed = set(SESSION_ONLY_ENDPOINTS).union(*(set(by_name) for by_name in TOKEN_SCOPE_MATRIX.values()))
    missing = sorted({name for name, _, _ in ENDPOINTS} - listed)
    assert not missing, f"add these API endpoints to TOKEN_SCOPE_MATRIX or SESSION_ONLY_ENDPOINTS: {missing}"
    unknown = sorted(listed - {name for name, _, _ in ENDPOINTS})
    assert not unknown, f"the scope matrix names endpoints that do not exist: {unknown}"


@pytest.fixture
def tokens(tenant_a, alice):
    return {scope: make_token(tenant_a, [scope], creator=alice) for scope in SCOPES}


@pytest.mark.parametrize(("name", "path", "method"), CASES, ids=[f"{m} {n}" for n, _, m in CASES])
def test_each_scope_opens_exactly_its_endpoints(tokens, name, path, method):
    """An owner's token of each single scope: 403 exactly where the matrix opens nothing for that scope."""
    for scope, token in tokens.items():
        response = Client().generic(method, path, "{}", content_type="application/json", **bearer(token))
        opened = scope_opens([scope], name, method)
        if opened:
            assert response.status_code != 403, f"{scope} should open {method} {name}: {response.content[:200]}"
        else:
            assert response.status_code == 403, f"{scope} must not open {method} {name}: {response.status_code}"


def test_trash_scope_cannot_start_or_terminate_and_write_cannot_start(tenant_a, alice):
    for scopes in (["trash"], ["write"], ["read", "trash", "write"]):
        headers = bearer(make_token(tenant_a, scopes, creator=alice))
        start = Client().post(reverse("api_topology_start", args=["x"]), "{}", "application/json", **headers)
        terminate = Client().post(reverse("api_process_terminate", args=[1]), "{}", "application/json", **headers)
        assert (start.status_code, terminate.status_code) == (403, 403), scopes


# ------------------------------------------------------------------- lesser of scopes and the creator's role


def test_a_token_is_never_stronger_than_its_creators_current_role(tenant_a, alice):
    editor = make_member(tenant_a, Role.EDITOR, "eddie@example.com")
    headers = bearer(make_token(tenant_a, ["read", "write", "start"], creator=editor))
    create = lambda: Client().post(reverse("api_topology_list"), {"name": "T"}, "application/json", **headers)  # noqa: E731
    assert create().status_code == 201
    Membership.objects.filter(user=editor, tenant=tenant_a).update(role=Role.VIEWER)
    refused = create()
    assert refused.status_code == 403
    assert Client().get(reverse("api_topology_list"), **headers).status_code == 200  # viewers still read


def test_removing_a_member_revokes_their_tokens_with_an_audit_entry(tenant_a, alice):
    operator = make_member(tenant_a, Role.OPERATOR, "olga@example.com")
    new = make_token(tenant_a, ["read", "start"], creator=operator)
    assert Client().get(reverse("api-tenant"), **bearer(new)).status_code == 200
    membership = Membership.objects.get(user=operator, tenant=tenant_a)
    owner = Membership.objects.get(user=alice, tenant=tenant_a)
    services.membership_remove(membership=membership, actor=alice, actor_membership=owner)
    new.token.refresh_from_db()
    assert new.token.revoked_at is not None
    assert Client().get(reverse("api-tenant"), **bearer(new)).status_code == 401
    entry = AuditEntry.objects.get(tenant=tenant_a, action="token.revoke", object_id=str(new.token.pk))
    assert entry.after["active"] is False


def test_a_token_whose_creator_is_gone_is_refused(tenant_a, alice):
    operator = make_member(tenant_a, Role.OPERATOR, "otto@example.com")
    new = make_token(tenant_a, ["read"], creator=operator)
    Membership.objects.filter(user=operator).delete()  # gone without the service, e.g. a deleted user
    response = Client().get(reverse("api-tenant"), **bearer(new))
    assert response.status_code == 401 and "no longer a member" in response.json()["detail"]


def test_a_token_may_ask_for_the_browsable_api_and_sees_only_its_tenant(tenant_a, tenant_b, alice):
    # The layout lists the caller's other tenants; a token's principal has none (it was a 500 before).
    Membership.objects.create(user=alice, tenant=tenant_b, role=Role.ADMIN)
    key = make_token(tenant_a, ["read"], creator=alice).key
    response = Client().get("/api/topologies/", HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert tenant_b.name not in response.content.decode()
