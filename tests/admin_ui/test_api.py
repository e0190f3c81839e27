import pytest
from django.test import Client
from django.utils import timezone

from admin_ui import services
from admin_ui.models import ApiToken, ApplicationInstall, AuditEntry, Invitation, Membership, Role
from tests.admin_ui.factories import SECRET, bearer, make_install, make_invitation, make_token
from tests.factories import make_member

pytestmark = pytest.mark.django_db

JSON = "application/json"
MANAGE_ROLES = {Role.ADMIN, Role.OWNER}


# ---------------------------------------------------------------- token authentication


def test_valid_token_authenticates_and_records_last_use(tenant_a):
    new = make_token(tenant_a, ["read"])
    assert new.token.last_used_at is None
    response = Client().get("/api/tenant/", **bearer(new))
    assert response.status_code == 200
    assert response.json()["id"] == tenant_a.pk
    assert ApiToken.objects.get(pk=new.token.pk).last_used_at is not None


def test_revoked_and_bad_tokens_are_401(tenant_a):
    new = make_token(tenant_a, ["read"])
    services.api_token_revoke(token=new.token, actor=None)
    revoked = Client().get("/api/tenant/", **bearer(new))
    assert revoked.status_code == 401
    assert revoked.json()["detail"] == "Invalid or revoked API token."
    assert Client().get("/api/tenant/", **bearer("fy_nope_nope")).status_code == 401
    assert Client().get("/api/tenant/").status_code in (401, 403)


def test_token_scopes_limit_what_it_can_do(tenant_a):
    read = make_token(tenant_a, ["read"])
    write = make_token(tenant_a, ["write", "start", "trash"])
    assert Client().get("/api/installs/", **bearer(read)).status_code == 200
    # No scope grants MANAGE: tokens cannot mint tokens, invite people or change installs.
    for new in (read, write):
        assert Client().get("/api/tokens/", **bearer(new)).status_code == 403
        assert (
            Client().post("/api/invitations/", {"email": "x@x.io"}, content_type=JSON, **bearer(new)).status_code == 403
        )
        assert Client().patch("/api/tenant/", {"name": "Hacked"}, content_type=JSON, **bearer(new)).status_code == 403
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Acme"


# ---------------------------------------------------------------- tenant


def test_tenant_get_and_patch(alice_client, tenant_a):
    assert alice_client.get("/api/tenant/").json()["name"] == "Acme"
    response = alice_client.patch("/api/tenant/", {"name": "Acme API"}, content_type=JSON)
    assert response.status_code == 200 and response.json()["name"] == "Acme API"
    bad = alice_client.patch("/api/tenant/", {"name": "  "}, content_type=JSON)
    assert bad.status_code == 400
    assert bad.json()["detail"] == "Invalid input." and "name" in bad.json()["errors"]
    assert AuditEntry.objects.filter(tenant=tenant_a, action="tenant.rename").count() == 1


def test_charlie_has_no_tenant_in_api(charlie_client):
    response = charlie_client.get("/api/tenant/")
    assert response.status_code == 403
    assert "No tenant" in response.json()["detail"]


# ---------------------------------------------------------------- permission matrix


@pytest.mark.parametrize("role", list(Role))
def test_api_permission_matrix(member_client, tenant_a, alice, role):
    client = member_client(role)
    manage = role in MANAGE_ROLES
    # Everyone reads members, applications and installs.
    for url in ["/api/tenant/", "/api/members/", "/api/applications/", "/api/installs/"]:
        assert client.get(url).status_code == 200, url
    expected = 200 if manage else 403
    assert client.get("/api/tokens/").status_code == expected
    assert client.get("/api/invitations/").status_code == expected
    created = client.post("/api/tokens/", {"name": "x", "scopes": ["read"]}, content_type=JSON)
    assert created.status_code == (201 if manage else 403)
    invited = client.post("/api/invitations/", {"email": "new@example.com", "role": "viewer"}, content_type=JSON)
    assert invited.status_code == (201 if manage else 403)
    install = client.post(
        "/api/installs/",
        {"application": "http-api", "name": "A", "settings": {"base_url": "https://a.io"}},
        content_type=JSON,
    )
    assert install.status_code == (201 if manage else 403)
    assert client.patch("/api/tenant/", {"name": "Z"}, content_type=JSON).status_code == expected


# ---------------------------------------------------------------- members


def test_members_list_change_role_and_remove(alice_client, tenant_a, alice):
    dan = make_member(tenant_a, Role.VIEWER, "dan@example.com")
    m = Membership.objects.get(user=dan)
    listing = alice_client.get("/api/members/").json()
    assert {row["email"] for row in listing} == {"alice@example.com", "dan@example.com"}
    response = alice_client.patch(f"/api/members/{m.pk}/", {"role": "editor"}, content_type=JSON)
    assert response.status_code == 200 and response.json()["role"] == "editor"
    bad = alice_client.patch(f"/api/members/{m.pk}/", {"role": "god"}, content_type=JSON)
    assert bad.status_code == 400 and "Unknown role" in str(bad.json()["errors"]["role"])
    assert alice_client.delete(f"/api/members/{m.pk}/").status_code == 204
    assert not Membership.objects.filter(pk=m.pk).exists()


def test_last_owner_rules_in_api(alice_client, tenant_a, alice):
    me = Membership.objects.get(user=alice)
    demote = alice_client.patch(f"/api/members/{me.pk}/", {"role": "admin"}, content_type=JSON)
    assert demote.status_code == 400
    assert demote.json()["detail"] == "The last owner cannot be demoted. Make someone else an owner first."
    remove = alice_client.delete(f"/api/members/{me.pk}/")
    assert remove.status_code == 400 and "last owner" in remove.json()["detail"]
    me.refresh_from_db()
    assert me.role == Role.OWNER


def test_admin_cannot_touch_owner_in_api(member_client, tenant_a, alice):
    client = member_client(Role.ADMIN)
    me = Membership.objects.get(user=alice)
    response = client.patch(f"/api/members/{me.pk}/", {"role": "viewer"}, content_type=JSON)
    assert response.status_code == 400 and "Only an owner" in response.json()["detail"]
    assert client.delete(f"/api/members/{me.pk}/").status_code == 400
    assert Membership.objects.get(pk=me.pk).role == Role.OWNER


# ---------------------------------------------------------------- invitations


def test_invitations_create_list_revoke(alice_client, tenant_a):
    response = alice_client.post("/api/invitations/", {"email": "dan@example.com", "role": "editor"}, content_type=JSON)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending" and "/invites/" in body["accept_url"]
    dup = alice_client.post("/api/invitations/", {"email": "dan@example.com"}, content_type=JSON)
    assert dup.status_code == 400 and "pending invitation" in dup.json()["errors"]["email"][0]
    bad = alice_client.post("/api/invitations/", {"email": "nope"}, content_type=JSON)
    assert bad.status_code == 400 and "email" in bad.json()["errors"]
    assert [row["email"] for row in alice_client.get("/api/invitations/").json()] == ["dan@example.com"]
    assert alice_client.delete(f"/api/invitations/{body['id']}/").status_code == 204
    assert Invitation.objects.get(pk=body["id"]).status == Invitation.Status.REVOKED
    assert alice_client.get("/api/invitations/").json() == []
    assert len(alice_client.get("/api/invitations/?status=all").json()) == 1


# ---------------------------------------------------------------- tokens


def test_tokens_create_returns_key_once_then_list_and_revoke(alice_client, tenant_a):
    response = alice_client.post("/api/tokens/", {"name": "ci", "scopes": ["start", "read"]}, content_type=JSON)
    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith(f"fy_{body['prefix']}_") and body["scopes"] == ["read", "start"]
    listing = alice_client.get("/api/tokens/").json()
    assert "key" not in listing[0] and body["key"] not in str(listing)
    assert Client().get("/api/members/", **bearer(body["key"])).status_code == 200
    assert alice_client.delete(f"/api/tokens/{body['id']}/").status_code == 204
    assert Client().get("/api/members/", **bearer(body["key"])).status_code == 401
    again = alice_client.delete(f"/api/tokens/{body['id']}/")
    assert again.status_code == 400 and again.json()["detail"] == "This token is already revoked."


def test_token_create_validation_messages(alice_client):
    response = alice_client.post("/api/tokens/", {"name": "x", "scopes": []}, content_type=JSON)
    assert response.status_code == 400
    assert "at least one scope" in response.json()["errors"]["scopes"][0]
    response = alice_client.post("/api/tokens/", {"name": "x", "scopes": ["root"]}, content_type=JSON)
    assert response.status_code == 400 and "scopes" in response.json()["errors"]
    assert not ApiToken.objects.exists()


# ---------------------------------------------------------------- applications and installs


def test_application_registry(alice_client):
    apps = {row["key"]: row for row in alice_client.get("/api/applications/").json()}
    fields = {f["name"]: f for f in apps["http-api"]["fields"]}
    assert fields["password"]["secret"] is True and fields["password"]["when"] == {"auth_type": ["basic"]}
    assert [c[0] for c in fields["auth_type"]["choices"]] == [
        "none",
        "basic",
        "bearer",
        "api_key",
        "oauth2_client_credentials",
    ]


def test_install_crud_with_write_only_secrets(alice_client, tenant_a):
    response = alice_client.post(
        "/api/installs/",
        {
            "application": "http-api",
            "name": "Shop",
            "settings": {
                "base_url": "https://shop.io",
                "auth_type": "oauth2_client_credentials",
                "token_url": "https://shop.io/token",
                "client_id": "cid",
            },
            "secrets": {"client_secret": SECRET},
        },
        content_type=JSON,
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secrets_set"] == ["client_secret"] and SECRET not in str(body)
    pk = body["id"]
    detail = alice_client.get(f"/api/installs/{pk}/").json()
    assert SECRET not in str(detail) and detail["settings"]["client_id"] == "cid"
    patched = alice_client.patch(
        f"/api/installs/{pk}/", {"settings": {"scope": "orders"}, "enabled": False}, content_type=JSON
    )
    assert patched.status_code == 200 and patched.json()["settings"]["scope"] == "orders"
    install = ApplicationInstall.objects.get(pk=pk)
    assert install.secrets == {"client_secret": SECRET} and install.enabled is False
    assert SECRET not in str(alice_client.get("/api/installs/").json())
    assert alice_client.delete(f"/api/installs/{pk}/").status_code == 204
    assert not ApplicationInstall.objects.filter(pk=pk).exists()


def test_install_validation_messages(alice_client):
    response = alice_client.post("/api/installs/", {"application": "nope", "name": "X"}, content_type=JSON)
    assert response.status_code == 400 and "Unknown application" in response.json()["errors"]["application"][0]
    response = alice_client.post(
        "/api/installs/",
        {"application": "http-api", "name": "X", "settings": {"base_url": "x", "auth_type": "bearer"}},
        content_type=JSON,
    )
    errors = response.json()["errors"]
    assert response.status_code == 400
    assert errors["base_url"] == ["Enter a valid http(s) URL."] and errors["token"] == ["Bearer token is required."]
    assert not ApplicationInstall.objects.exists()


def test_install_cannot_change_application(alice_client, tenant_a):
    install = make_install(tenant_a)
    response = alice_client.patch(f"/api/installs/{install.pk}/", {"application": "slack-webhook"}, content_type=JSON)
    assert response.status_code == 400


# ---------------------------------------------------------------- docs


def test_schema_and_swagger_render(alice_client):
    schema = alice_client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ["/api/tenant/", "/api/members/{id}/", "/api/invitations/", "/api/tokens/", "/api/installs/{id}/"]:
        assert path in text
    docs = alice_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content and b"cdn" not in docs.content.lower()


def test_invitation_expiry_in_api_output(alice_client, tenant_a):
    invitation = make_invitation(tenant_a)
    row = alice_client.get(f"/api/invitations/{invitation.pk}/").json()
    assert row["expires_at"] > timezone.now().isoformat()[:10]
