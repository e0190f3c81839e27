"""Alice (tenant A) never reaches tenant B's rows; charlie (no tenant) is sent to create one."""

import pytest
from django.urls import reverse

from admin_ui.models import ApiToken, ApplicationInstall, AuditEntry, Invitation, Membership, Role, Tenant
from tests.admin_ui.factories import bearer, make_install, make_invitation, make_token
from tests.factories import make_member

pytestmark = pytest.mark.django_db

JSON = "application/json"

COVERED_URL_NAMES = {
    "tenant_create",
    "tenant_switch",
    "tenant_settings",
    "tenant_delete",
    "tenant_leave",
    "member_list",
    "invitation_create",
    "member_role",
    "member_remove",
    "invitation_revoke",
    "token_list",
    "token_revoke",
    "audit_list",
    "install_list",
    "install_catalog",
    "install_create",
    "install_edit",
    "install_toggle",
    "install_delete",
    "password_change",
    "password_change_done",
    "api-tenant",
    "api-member-list",
    "api-member-detail",
    "api-invitation-list",
    "api-invitation-detail",
    "api-token-list",
    "api-token-detail",
    "api-application-list",
    "api-install-list",
    "api-install-detail",
}


@pytest.fixture
def bobs(tenant_b, bob):
    """One of every tenant-B object, to aim alice's requests at."""
    carol = make_member(tenant_b, Role.VIEWER, "carol@example.com")
    return {
        "membership": Membership.objects.get(user=carol),
        "invitation": make_invitation(tenant_b, "bobinvite@example.com"),
        "token": make_token(tenant_b, name="bob-token").token,
        "install": make_install(tenant_b, name="Bob Shop"),
    }


OBJECT_PAGES = [
    ("post", "member_role", "membership", {"role": "owner"}),
    ("post", "member_remove", "membership", {}),
    ("post", "invitation_revoke", "invitation", {}),
    ("post", "token_revoke", "token", {}),
    ("get", "install_edit", "install", {}),
    ("post", "install_edit", "install", {"name": "Stolen", "base_url": "https://evil.io", "auth_type": "none"}),
    ("post", "install_toggle", "install", {}),
    ("get", "install_delete", "install", {}),
    ("post", "install_delete", "install", {}),
]


@pytest.mark.parametrize(("method", "name", "key", "data"), OBJECT_PAGES)
def test_pages_on_other_tenants_objects_are_404(alice_client, bobs, method, name, key, data):
    url = reverse(name, args=[bobs[key].pk])
    response = getattr(alice_client, method)(url, data)
    assert response.status_code == 404


def test_other_tenants_objects_are_unchanged_after_attempts(alice_client, bobs, tenant_b):
    for method, name, key, data in OBJECT_PAGES:
        getattr(alice_client, method)(reverse(name, args=[bobs[key].pk]), data)
    assert Membership.objects.get(pk=bobs["membership"].pk).role == Role.VIEWER
    assert Invitation.objects.get(pk=bobs["invitation"].pk).status == Invitation.Status.PENDING
    assert ApiToken.objects.get(pk=bobs["token"].pk).revoked_at is None
    install = ApplicationInstall.objects.get(pk=bobs["install"].pk)
    assert install.name == "Bob Shop" and install.enabled
    assert not AuditEntry.objects.filter(tenant=tenant_b, actor__email="alice@example.com").exists()


def test_switch_to_other_tenant_is_404(alice_client, tenant_b):
    assert alice_client.post(reverse("tenant_switch", args=[tenant_b.pk])).status_code == 404


def test_list_pages_show_only_own_tenant(alice_client, bobs, tenant_a):
    make_install(tenant_a, name="Alice Shop")
    members = alice_client.get(reverse("member_list")).content.decode()
    assert "alice@example.com" in members
    assert "carol@example.com" not in members and "bobinvite@example.com" not in members
    tokens = alice_client.get(reverse("token_list")).content.decode()
    assert "bob-token" not in tokens
    installs = alice_client.get(reverse("install_list")).content.decode()
    assert "Alice Shop" in installs and "Bob Shop" not in installs
    audit = alice_client.get(reverse("audit_list")).content.decode()
    assert "Alice Shop" in audit and "Bob Shop" not in audit and "bob-token" not in audit
    settings_page = alice_client.get(reverse("tenant_settings")).content.decode()
    assert "Acme" in settings_page and "Bolt" not in settings_page


def test_tenant_scoped_writes_act_on_own_tenant_only(alice_client, bobs, tenant_a, tenant_b):
    alice_client.post(reverse("tenant_settings"), {"name": "Acme New"})
    alice_client.post(reverse("invitation_create"), {"email": "x@example.com", "role": "viewer"})
    alice_client.post(reverse("token_list"), {"name": "mine", "scopes": ["read"]})
    alice_client.post(
        reverse("install_create", args=["slack-webhook"]), {"name": "Slack", "webhook_url": "https://h.io/x"}
    )
    assert Tenant.objects.get(pk=tenant_b.pk).name == "Bolt"
    assert Invitation.objects.get(email="x@example.com").tenant == tenant_a
    assert ApiToken.objects.get(name="mine").tenant == tenant_a
    assert ApplicationInstall.objects.get(name="Slack").tenant == tenant_a
    alice_client.post(reverse("tenant_delete"), {"confirm": "Bolt"})
    assert Tenant.objects.filter(pk=tenant_b.pk).exists()


CHARLIE_PAGES = [
    ("get", "tenant_settings", []),
    ("get", "tenant_delete", []),
    ("post", "tenant_leave", []),
    ("get", "member_list", []),
    ("post", "invitation_create", []),
    ("post", "member_role", [1]),
    ("post", "member_remove", [1]),
    ("post", "invitation_revoke", [1]),
    ("get", "token_list", []),
    ("post", "token_revoke", [1]),
    ("get", "audit_list", []),
    ("get", "install_list", []),
    ("get", "install_catalog", []),
    ("get", "install_create", ["http-api"]),
    ("get", "install_edit", [1]),
    ("post", "install_toggle", [1]),
    ("get", "install_delete", [1]),
]


@pytest.mark.parametrize(("method", "name", "args"), CHARLIE_PAGES)
def test_charlie_is_sent_to_create_a_tenant(charlie_client, bobs, method, name, args):
    response = getattr(charlie_client, method)(reverse(name, args=args))
    assert response.status_code == 302
    assert response.url == reverse("tenant_create")


def test_charlie_reaches_account_pages(charlie_client, tenant_b):
    assert charlie_client.get(reverse("tenant_create")).status_code == 200
    assert charlie_client.get(reverse("password_change")).status_code == 200
    assert charlie_client.get(reverse("password_change_done")).status_code == 200
    assert charlie_client.post(reverse("tenant_switch", args=[tenant_b.pk])).status_code == 404


def test_anonymous_is_sent_to_login(client):
    for name in ["tenant_create", "password_change", "password_change_done", "tenant_settings", "install_list"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(reverse("login")), name


# ---------------------------------------------------------------- API


API_OBJECTS = [
    ("get", "api-member-detail", "membership", None),
    ("patch", "api-member-detail", "membership", {"role": "owner"}),
    ("delete", "api-member-detail", "membership", None),
    ("get", "api-invitation-detail", "invitation", None),
    ("delete", "api-invitation-detail", "invitation", None),
    ("get", "api-token-detail", "token", None),
    ("delete", "api-token-detail", "token", None),
    ("get", "api-install-detail", "install", None),
    ("patch", "api-install-detail", "install", {"name": "Stolen"}),
    ("delete", "api-install-detail", "install", None),
]


@pytest.mark.parametrize(("method", "name", "key", "data"), API_OBJECTS)
def test_api_other_tenants_objects_are_404(alice_client, bobs, method, name, key, data):
    url = reverse(name, args=[bobs[key].pk])
    response = getattr(alice_client, method)(url, data, content_type=JSON)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "name", "key", "data"), API_OBJECTS)
def test_api_token_of_tenant_a_gets_404_or_403_on_tenant_b(tenant_a, alice, bobs, client, method, name, key, data):
    headers = bearer(make_token(tenant_a, ["read", "write"]))
    response = getattr(client, method)(reverse(name, args=[bobs[key].pk]), data, content_type=JSON, **headers)
    # Readable kinds are 404 (not found in A); the rest need MANAGE, which no token scope grants.
    readable = method == "get" and key in {"membership", "install"}
    assert response.status_code == (404 if readable else 403)
    assert ApplicationInstall.objects.get(pk=bobs["install"].pk).name == "Bob Shop"


def test_api_lists_show_only_own_tenant(alice_client, bobs, tenant_a):
    assert alice_client.get(reverse("api-tenant")).json()["id"] == tenant_a.pk
    emails = {row["email"] for row in alice_client.get(reverse("api-member-list")).json()}
    assert emails == {"alice@example.com"}
    assert alice_client.get(reverse("api-invitation-list")).json() == []
    assert alice_client.get(reverse("api-token-list")).json() == []
    assert alice_client.get(reverse("api-install-list")).json() == []
    keys = {row["key"] for row in alice_client.get(reverse("api-application-list")).json()}
    assert "http-api" in keys


API_LISTS = [
    "api-tenant",
    "api-member-list",
    "api-invitation-list",
    "api-token-list",
    "api-application-list",
    "api-install-list",
]


@pytest.mark.parametrize("name", API_LISTS)
def test_api_charlie_is_403_and_anonymous_401(charlie_client, client, name):
    response = charlie_client.get(reverse(name))
    assert response.status_code == 403 and "No tenant" in response.json()["detail"]
    assert client.get(reverse(name)).status_code in (401, 403)


@pytest.mark.parametrize(("method", "name", "key", "data"), API_OBJECTS)
def test_api_charlie_gets_403_on_objects(charlie_client, bobs, method, name, key, data):
    response = getattr(charlie_client, method)(reverse(name, args=[bobs[key].pk]), data, content_type=JSON)
    assert response.status_code == 403
