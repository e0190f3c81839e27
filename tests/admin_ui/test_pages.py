import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse

from admin_ui import services
from admin_ui.models import ApiToken, ApplicationInstall, AuditEntry, Invitation, Membership, Role, Tenant
from admin_ui.tenancy import SESSION_KEY
from tests.admin_ui.factories import SECRET, make_install, make_invitation, make_token
from tests.factories import PASSWORD, make_member, make_tenant, make_user

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- sign up, log in, passwords


def signup_link() -> str:
    return re.search(r"http://\S+(/accounts/signup/\S+)", mail.outbox[-1].body).group(1)


def test_signup_mails_a_link_that_sets_the_password_logs_in_and_asks_for_a_tenant(client):
    response = client.post("/accounts/signup/", {"email": "New@Example.com"})
    assert response.status_code == 200 and "Check your email" in response.content.decode()
    assert "_auth_user_id" not in client.session
    link = signup_link()
    weak = client.post(link, {"new_password1": "12345678", "new_password2": "12345678"})
    assert "too common" in weak.content.decode() or "entirely numeric" in weak.content.decode()
    done = client.post(link, {"new_password1": "a-long-pass-phrase-1", "new_password2": "a-long-pass-phrase-1"})
    assert done.status_code == 302 and done.url == reverse("tenant_create")
    assert client.get("/").url == reverse("tenant_create")  # logged in, no tenant yet
    spent = Client().get(link)
    assert spent.status_code == 400 and "already used" in spent.content.decode()


def test_signup_does_not_reveal_whether_an_email_has_an_account(client):
    make_user("taken@example.com")
    taken = client.post("/accounts/signup/", {"email": "taken@example.com"})
    fresh = Client().post("/accounts/signup/", {"email": "fresh@example.com"})
    assert taken.status_code == fresh.status_code == 200

    def card(response) -> str:
        return re.search(r'data-testid="signup-sent">(.*?)</div>', response.content.decode(), re.S).group(1)

    assert card(taken).replace("taken@", "X@") == card(fresh).replace("fresh@", "X@")
    assert "already" not in taken.content.decode()
    notice = next(m for m in mail.outbox if m.to == ["taken@example.com"])
    assert "already has an account" in notice.body
    assert get_user_model().objects.get(username="taken@example.com").check_password(PASSWORD)  # untouched


def test_login_by_email_case_insensitive_and_logout(client):
    make_user("mixed@example.com")
    response = client.post("/accounts/login/", {"username": "MIXED@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
    bad = Client().post("/accounts/login/", {"username": "mixed@example.com", "password": "wrong"})
    assert bad.status_code == 200 and "correct" in bad.content.decode()
    client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session


def test_password_change(alice_client, alice):
    page = alice_client.get("/accounts/password/change/")
    assert page.status_code == 200 and "Change password" in page.content.decode()
    response = alice_client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": "brand-new-pass-42", "new_password2": "brand-new-pass-42"},
    )
    assert response.status_code == 302 and response.url == reverse("password_change_done")
    alice.refresh_from_db()
    assert alice.check_password("brand-new-pass-42")


def test_password_reset_sends_a_working_link(client, alice):
    assert client.get("/accounts/password/reset/").status_code == 200
    response = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://\S+/accounts/password/reset/\S+/", mail.outbox[0].body).group(0)
    path = link.split("testserver", 1)[1]
    form_page = client.get(path, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "reset-pass-xyz-1", "new_password2": "reset-pass-xyz-1"}
    )
    assert done.status_code == 302 and done.url == reverse("password_reset_complete")
    alice.refresh_from_db()
    assert alice.check_password("reset-pass-xyz-1")


# ---------------------------------------------------------------- tenants


def test_charlie_creates_a_tenant_and_it_becomes_current(charlie_client, charlie):
    assert charlie_client.get("/settings/").url.startswith("/tenants/new/")
    page = charlie_client.get("/tenants/new/")
    assert "Create your first tenant" in page.content.decode()
    response = charlie_client.post("/tenants/new/", {"name": "Charlie Inc"})
    tenant = Tenant.objects.get(name="Charlie Inc")
    assert response.status_code == 302
    assert charlie_client.session[SESSION_KEY] == tenant.pk
    assert Membership.objects.get(user=charlie, tenant=tenant).role == Role.OWNER


def test_switch_tenant(alice_client, alice, tenant_b):
    other = make_tenant("Second")
    Membership.objects.create(user=alice, tenant=other, role=Role.VIEWER)
    response = alice_client.post(f"/tenants/{other.pk}/switch/")
    assert response.status_code == 302
    assert alice_client.session[SESSION_KEY] == other.pk
    assert alice_client.post(f"/tenants/{tenant_b.pk}/switch/").status_code == 404
    assert alice_client.session[SESSION_KEY] == other.pk
    assert alice_client.get(f"/tenants/{other.pk}/switch/").status_code == 405


def test_rename_and_delete_tenant(alice_client, tenant_a):
    assert alice_client.post("/settings/", {"name": "Acme Renamed"}).status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Acme Renamed"
    wrong = alice_client.post("/settings/delete/", {"confirm": "nope"})
    assert wrong.status_code == 200 and "exactly" in wrong.content.decode()
    assert Tenant.objects.filter(pk=tenant_a.pk).exists()
    assert alice_client.post("/settings/delete/", {"confirm": "Acme Renamed"}).status_code == 302
    assert not Tenant.objects.filter(pk=tenant_a.pk).exists()


@pytest.mark.parametrize(
    ("role", "rename", "delete"),
    [
        (Role.VIEWER, 403, 403),
        (Role.OPERATOR, 403, 403),
        (Role.EDITOR, 403, 403),
        (Role.ADMIN, 302, 403),
        (Role.OWNER, 302, 200),
    ],
)
def test_general_settings_permissions(member_client, tenant_a, role, rename, delete):
    client = member_client(role)
    assert client.get("/settings/").status_code == 200
    assert client.post("/settings/", {"name": "New"}).status_code == rename
    assert client.get("/settings/delete/").status_code == delete


def test_last_owner_cannot_leave_but_a_viewer_can(alice_client, member_client, tenant_a, alice):
    response = alice_client.post("/settings/leave/", follow=True)
    assert "last owner" in response.content.decode()
    assert Membership.objects.filter(user=alice, tenant=tenant_a).exists()
    viewer = member_client(Role.VIEWER)
    assert viewer.post("/settings/leave/").status_code == 302
    assert Membership.objects.filter(tenant=tenant_a).count() == 1


# ---------------------------------------------------------------- members page


MANAGE_ROLES = [Role.ADMIN, Role.OWNER]


@pytest.mark.parametrize("role", list(Role))
def test_members_page_per_role(member_client, tenant_a, alice, role):
    client = member_client(role)
    response = client.get("/settings/members/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "alice@example.com" in body
    assert 'data-testid="role-matrix"' in body
    can_manage = role in MANAGE_ROLES
    assert ('data-testid="invite-form"' in body) == can_manage
    assert ("API tokens</a>" in body) == can_manage
    status = client.post("/settings/members/invite/", {"email": f"{role}@x.example.com", "role": "viewer"}).status_code
    assert status == (302 if can_manage else 403)
    assert Invitation.objects.filter(email=f"{role}@x.example.com").exists() == can_manage


def test_invite_shows_link_and_lists_pending(alice_client, tenant_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/settings/members/invite/", {"email": "dan@example.com", "role": "editor"})
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="dan@example.com")
    page = alice_client.get("/settings/members/").content.decode()
    url = "http://testserver" + services.invitation_path(invitation=invitation)
    assert 'data-testid="invite-link"' in page and url in page
    assert 'data-testid="invitations"' in page
    assert services.invitation_url(invitation=invitation) in mail.outbox[0].body
    # The one-time banner is gone on the next view; the link stays copyable in the pending list.
    again = alice_client.get("/settings/members/").content.decode()
    assert 'data-testid="invite-link"' not in again and url in again


def test_invite_form_errors(alice_client, tenant_a):
    response = alice_client.post("/settings/members/invite/", {"email": "alice@example.com", "role": "viewer"})
    assert response.status_code == 400 and "already a member" in response.content.decode()
    response = alice_client.post("/settings/members/invite/", {"email": "not-an-email", "role": "viewer"})
    assert response.status_code == 400 and "valid email" in response.content.decode()


def test_admin_cannot_pick_owner_in_invite_form(member_client, tenant_a):
    client = member_client(Role.ADMIN)
    page = client.get("/settings/members/").content.decode()
    invite_form = page.split('data-testid="invite-form"', 1)[1].split("</form>", 1)[0]
    assert 'value="owner"' not in invite_form
    response = client.post("/settings/members/invite/", {"email": "o@example.com", "role": "owner"})
    assert response.status_code == 400
    assert not Invitation.objects.filter(email="o@example.com").exists()


def test_change_role_and_remove_member(alice_client, tenant_a):
    bobby = make_member(tenant_a, Role.VIEWER, "bobby@example.com")
    m = Membership.objects.get(user=bobby)
    assert alice_client.post(f"/settings/members/{m.pk}/role/", {"role": "editor"}).status_code == 302
    m.refresh_from_db()
    assert m.role == Role.EDITOR
    assert alice_client.post(f"/settings/members/{m.pk}/remove/").status_code == 302
    assert not Membership.objects.filter(pk=m.pk).exists()
    actions = set(AuditEntry.objects.filter(tenant=tenant_a).values_list("action", flat=True))
    assert {"member.role_change", "member.remove"} <= actions


def test_last_owner_demotion_is_refused_with_a_message(alice_client, tenant_a, alice):
    me = Membership.objects.get(user=alice)
    response = alice_client.post(f"/settings/members/{me.pk}/role/", {"role": "admin"}, follow=True)
    assert "last owner cannot be demoted" in response.content.decode()
    me.refresh_from_db()
    assert me.role == Role.OWNER


def test_admin_cannot_demote_owner_via_page(member_client, tenant_a, alice):
    client = member_client(Role.ADMIN)
    me = Membership.objects.get(user=alice)
    response = client.post(f"/settings/members/{me.pk}/role/", {"role": "viewer"}, follow=True)
    assert "Only an owner" in response.content.decode()
    me.refresh_from_db()
    assert me.role == Role.OWNER


def test_revoke_invitation(alice_client, tenant_a):
    invitation = make_invitation(tenant_a)
    assert alice_client.post(f"/settings/invitations/{invitation.pk}/revoke/").status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.REVOKED


# ---------------------------------------------------------------- accepting invitations


def test_accept_flow_for_logged_out_user_then_signup(client, tenant_a, alice):
    invitation = make_invitation(tenant_a, "dan@example.com", Role.EDITOR)
    path = reverse("invite_accept", args=[services.invitation_token(invitation=invitation)])
    page = client.get(path).content.decode()
    assert "Join Acme" in page and "Log in" in page and "Sign up" in page
    client.post(f"/accounts/signup/?next={path}", {"email": "dan@example.com", "next": path})
    signup = client.post(signup_link(), {"new_password1": "dan-long-pass-1", "new_password2": "dan-long-pass-1"})
    assert signup.url == path
    assert "Accept invitation" in client.get(path).content.decode()
    accepted = client.post(path)
    assert accepted.status_code == 302
    assert Membership.objects.get(tenant=tenant_a, user__email="dan@example.com").role == Role.EDITOR
    assert client.session[SESSION_KEY] == tenant_a.pk
    used = client.get(path)
    assert used.status_code == 400 and "already been used" in used.content.decode()


def test_accept_with_wrong_account_shows_error(tenant_a, alice, bob_client):
    invitation = make_invitation(tenant_a, "dan@example.com")
    path = reverse("invite_accept", args=[services.invitation_token(invitation=invitation)])
    response = bob_client.post(path)
    assert response.status_code == 400 and "sent to dan@example.com" in response.content.decode()
    assert not Membership.objects.filter(tenant=tenant_a, user__email="bob@example.com").exists()


@pytest.mark.parametrize("case", ["bad", "expired", "revoked"])
def test_accept_page_errors(client, tenant_a, alice, case):
    invitation = make_invitation(tenant_a)
    token = services.invitation_token(invitation=invitation)
    expected = {"bad": "not valid", "expired": "expired", "revoked": "revoked"}[case]
    if case == "bad":
        token = "nonsense-token"
    elif case == "expired":
        token = services.invitation_token(invitation=invitation, issued_at=0)
    else:
        services.invitation_revoke(invitation=invitation, actor=alice)
    response = client.get(reverse("invite_accept", args=[token]))
    assert response.status_code == 400
    assert 'data-testid="invite-error"' in response.content.decode()
    assert expected in response.content.decode()


# ---------------------------------------------------------------- API tokens page


def test_token_key_is_shown_once(alice_client, tenant_a):
    response = alice_client.post("/settings/tokens/", {"name": "CI deploy", "scopes": ["read", "start"]})
    assert response.status_code == 302
    first = alice_client.get("/settings/tokens/").content.decode()
    key = re.search(r'id="new-token-key">(fy_[^<]+)<', first).group(1)
    token = ApiToken.objects.get(name="CI deploy")
    assert token.hashed_key == ApiToken.hash_key(key)
    second = alice_client.get("/settings/tokens/").content.decode()
    assert key not in second and "CI deploy" in second and f"fy_{token.prefix}_" in second


def test_token_form_errors_and_revoke(alice_client, tenant_a):
    response = alice_client.post("/settings/tokens/", {"name": "", "scopes": []})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    token = make_token(tenant_a).token
    assert alice_client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in alice_client.get("/settings/tokens/").content.decode()


@pytest.mark.parametrize("role", list(Role))
def test_tokens_page_per_role(member_client, tenant_a, role):
    client = member_client(role)
    expected = 200 if role in MANAGE_ROLES else 403
    assert client.get("/settings/tokens/").status_code == expected
    client.post("/settings/tokens/", {"name": "t", "scopes": ["read"]})
    assert ApiToken.objects.filter(tenant=tenant_a).exists() == (role in MANAGE_ROLES)


# ---------------------------------------------------------------- applications


def test_install_create_edit_toggle_delete(alice_client, tenant_a):
    catalog = alice_client.get("/applications/catalog/").content.decode()
    assert "HTTP API" in catalog
    form = alice_client.get("/applications/new/http-api/").content.decode()
    assert 'name="client_secret"' in form and 'data-when-field="auth_type"' in form
    response = alice_client.post(
        "/applications/new/http-api/",
        {
            "name": "Shop",
            "base_url": "https://shop.example.com",
            "auth_type": "api_key",
            "header_name": "X-Key",
            "api_key": SECRET,
        },
    )
    assert response.status_code == 302
    install = ApplicationInstall.objects.get(tenant=tenant_a, name="Shop")
    assert install.secrets == {"api_key": SECRET}
    listing = alice_client.get("/applications/").content.decode()
    assert SECRET[-4:] not in listing and "••••••••" in listing
    edit = alice_client.get(f"/applications/{install.pk}/").content.decode()
    assert SECRET not in edit and "Leave blank to keep" in edit
    alice_client.post(
        f"/applications/{install.pk}/",
        {
            "name": "Shop",
            "base_url": "https://shop2.example.com",
            "auth_type": "api_key",
            "header_name": "X-Key",
            "api_key": "",
        },
    )
    install.refresh_from_db()
    assert install.secrets == {"api_key": SECRET} and install.settings["base_url"] == "https://shop2.example.com"
    alice_client.post(f"/applications/{install.pk}/toggle/")
    install.refresh_from_db()
    assert install.enabled is False
    assert alice_client.get(f"/applications/{install.pk}/delete/").status_code == 200
    alice_client.post(f"/applications/{install.pk}/delete/")
    assert not ApplicationInstall.objects.filter(pk=install.pk).exists()
    actions = set(AuditEntry.objects.filter(tenant=tenant_a).values_list("action", flat=True))
    assert {"install.create", "install.update", "install.disable", "install.delete"} <= actions


def test_install_form_errors(alice_client, tenant_a):
    response = alice_client.post(
        "/applications/new/http-api/", {"name": "", "base_url": "nope", "auth_type": "basic", "username": "u"}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Name is required." in body and "Enter a valid http(s) URL." in body and "Password is required." in body
    assert not ApplicationInstall.objects.exists()


def test_unknown_application_is_404(alice_client):
    assert alice_client.get("/applications/new/no-such-app/").status_code == 404


@pytest.mark.parametrize("role", list(Role))
def test_install_pages_per_role(member_client, tenant_a, role):
    install = make_install(tenant_a)
    client = member_client(role)
    listing = client.get("/applications/")
    assert listing.status_code == 200 and install.name in listing.content.decode()
    manage = role in MANAGE_ROLES
    assert client.get("/applications/catalog/").status_code == (200 if manage else 403)
    assert client.get(f"/applications/{install.pk}/").status_code == (200 if manage else 403)
    client.post(f"/applications/{install.pk}/toggle/")
    install.refresh_from_db()
    assert install.enabled is (not manage)


def test_install_list_empty_state(alice_client):
    body = alice_client.get("/applications/").content.decode()
    assert "No applications installed" in body and reverse("install_catalog") in body


# ---------------------------------------------------------------- audit page


def test_audit_page_filters_and_paginates(alice_client, tenant_a, alice):
    for i in range(30):
        services.audit_log(
            tenant=tenant_a,
            actor=alice,
            action="tenant.rename",
            obj=tenant_a,
            before={"name": f"n{i}"},
            after={"name": f"n{i + 1}"},
        )
    make_token(tenant_a, name="ci", creator=make_member(tenant_a, Role.ADMIN, "carol@example.com"))
    page1 = alice_client.get("/settings/audit/").content.decode()
    assert "31 entries" in page1 and "page 1 of 2" in page1
    assert "<del>n29</del>" in page1 and "<ins>n30</ins>" in page1
    page2 = alice_client.get("/settings/audit/?page=2").content.decode()
    assert "page 2 of 2" in page2
    only_tokens = alice_client.get("/settings/audit/?action=token.create").content.decode()
    assert "1 entry" in only_tokens and "tenant.rename</span>" not in only_tokens
    by_type = alice_client.get("/settings/audit/?object_type=api_token").content.decode()
    assert "1 entry" in by_type
    by_actor = alice_client.get("/settings/audit/?actor=alice").content.decode()
    assert "30 entries" in by_actor
    future = alice_client.get("/settings/audit/?date_from=2999-01-01").content.decode()
    assert "No entries match" in future


def test_audit_page_bad_filter_values_are_form_errors_and_the_page_is_tenant_scoped(alice_client, tenant_a, tenant_b):
    services.audit_log(tenant=tenant_a, actor=None, action="token.create", object_type="api_token")
    services.audit_log(tenant=tenant_b, actor=None, action="tenant.rename", object_type="tenant")
    bad = alice_client.get("/settings/audit/?date_from=not-a-date&action=tenant.rename")
    assert bad.status_code == 200
    form = bad.context["form"]
    assert "date_from" in form.errors
    # Another tenant's action is no choice here: naming it is an error, not a way to read their log.
    assert "action" in form.errors
    body = bad.content.decode()
    assert 'data-testid="filter-error"' in body
    assert 'badge-action">tenant.rename' not in body and 'badge-action">token.create' in body
    everything = alice_client.get("/settings/audit/?actor=").content.decode()
    assert "1 entry" in everything and 'badge-action">tenant.rename' not in everything


def test_audit_page_empty_state(alice_client):
    assert "Nothing audited yet" in alice_client.get("/settings/audit/").content.decode()


def test_pages_require_login(client):
    for name in ["tenant_settings", "member_list", "token_list", "audit_list", "install_list", "tenant_create"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_logged_in_user_visiting_signup_goes_home(alice_client):
    assert alice_client.get("/accounts/signup/").status_code == 302
