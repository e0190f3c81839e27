import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection

from admin_ui import services
from admin_ui.applications import REGISTRY, application_sync, mask_secret
from admin_ui.authentication import TokenUser
from admin_ui.models import ApiToken, Application, ApplicationInstall, AuditEntry, Invitation, Membership, Role
from tests.admin_ui.factories import SECRET, make_install, make_invitation, make_token
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- audit


def test_audit_log_records_user_token_and_system_actors(tenant_a, alice):
    by_user = services.audit_log(tenant=tenant_a, actor=alice, action="x.user", obj=tenant_a, after={"a": 1})
    assert by_user.actor == alice and by_user.actor_label == "alice@example.com"
    assert by_user.object_type == "tenant" and by_user.object_id == str(tenant_a.pk)

    token = make_token(tenant_a, name="deploy").token
    by_token = services.audit_log(tenant=tenant_a, actor=TokenUser(token), action="x.token", object_type="thing")
    assert by_token.actor is None
    assert by_token.actor_label == f"API token deploy ({token.prefix})"

    by_system = services.audit_log(tenant=tenant_a, actor=None, action="x.system")
    assert by_system.actor is None and by_system.actor_label == "system"


# ---------------------------------------------------------------- tenants


def test_signup_request_normalises_email_and_mails_a_link_or_a_notice(db):
    services.signup_request(email="Dana@Example.COM")
    user = get_user_model().objects.get(username="dana@example.com")
    assert user.email == "dana@example.com" and not user.has_usable_password()
    assert services.signup_path(user=user) in mail.outbox[-1].body
    services.signup_request(email="dana@example.com")  # not finished yet: a new link, still no password
    assert get_user_model().objects.filter(username="dana@example.com").count() == 1
    user.set_password("long-enough-pass-1")
    user.save()
    services.signup_request(email="DANA@example.com")
    assert "already has an account" in mail.outbox[-1].body and "/accounts/signup/" not in mail.outbox[-1].body
    user.refresh_from_db()
    assert user.check_password("long-enough-pass-1")


def test_tenant_create_makes_creator_owner_with_unique_slug(charlie):
    first = services.tenant_create(name="Acme Co", owner=charlie)
    second = services.tenant_create(name="Acme Co", owner=charlie)
    assert first.slug == "acme-co" and second.slug == "acme-co-2"
    assert Membership.objects.get(tenant=first, user=charlie).role == Role.OWNER
    assert AuditEntry.objects.filter(tenant=first, action="tenant.create").count() == 1


def test_tenant_rename_is_audited_with_before_and_after(tenant_a, alice):
    services.tenant_rename(tenant=tenant_a, name="  Acme 2 ", actor=alice)
    tenant_a.refresh_from_db()
    assert tenant_a.name == "Acme 2"
    entry = AuditEntry.objects.get(tenant=tenant_a, action="tenant.rename")
    assert entry.before == {"name": "Acme"} and entry.after == {"name": "Acme 2"}
    with pytest.raises(services.ServiceError):
        services.tenant_rename(tenant=tenant_a, name="   ", actor=alice)


def test_tenant_delete_removes_everything_it_owns(tenant_a, alice):
    install = make_install(tenant_a)
    services.tenant_delete(tenant=tenant_a, actor=alice)
    assert not ApplicationInstall.objects.filter(pk=install.pk).exists()
    assert not Membership.objects.filter(user=alice).exists()


# ---------------------------------------------------------------- members and the last owner


def _membership(user, tenant):
    return Membership.objects.get(user=user, tenant=tenant)


def test_last_owner_cannot_be_demoted_removed_or_leave(tenant_a, alice):
    me = _membership(alice, tenant_a)
    with pytest.raises(services.ServiceError, match="last owner"):
        services.membership_change_role(membership=me, role=Role.ADMIN, actor=alice, actor_membership=me)
    with pytest.raises(services.ServiceError, match="last owner"):
        services.membership_remove(membership=me, actor=alice, actor_membership=me)
    me.refresh_from_db()
    assert me.role == Role.OWNER


def test_second_owner_allows_demotion_of_the_first(tenant_a, alice):
    other = make_member(tenant_a, Role.OWNER)
    me = _membership(alice, tenant_a)
    services.membership_change_role(membership=me, role=Role.VIEWER, actor=alice, actor_membership=me)
    me.refresh_from_db()
    assert me.role == Role.VIEWER
    theirs = _membership(other, tenant_a)
    # Now `other` is the last owner: the same rule protects them.
    with pytest.raises(services.ServiceError, match="last owner"):
        services.membership_remove(membership=theirs, actor=other, actor_membership=theirs)
    entry = AuditEntry.objects.get(tenant=tenant_a, action="member.role_change")
    assert entry.before["role"] == "owner" and entry.after["role"] == "viewer"


def test_admin_cannot_grant_or_touch_owner_role(tenant_a, alice):
    admin = make_member(tenant_a, Role.ADMIN)
    editor = make_member(tenant_a, Role.EDITOR)
    admin_m = _membership(admin, tenant_a)
    with pytest.raises(services.ServiceError, match="Only an owner"):
        services.membership_change_role(
            membership=_membership(editor, tenant_a), role=Role.OWNER, actor=admin, actor_membership=admin_m
        )
    with pytest.raises(services.ServiceError, match="Only an owner"):
        services.membership_remove(membership=_membership(alice, tenant_a), actor=admin, actor_membership=admin_m)
    with pytest.raises(services.ServiceError, match="Only an owner"):
        services.invitation_create(
            tenant=tenant_a, email="x@example.com", role=Role.OWNER, actor=admin, actor_membership=admin_m
        )
    # Below owner, admins manage freely.
    services.membership_change_role(
        membership=_membership(editor, tenant_a), role=Role.OPERATOR, actor=admin, actor_membership=admin_m
    )
    assert _membership(editor, tenant_a).role == Role.OPERATOR


def test_editor_cannot_manage_members(tenant_a, alice):
    editor = make_member(tenant_a, Role.EDITOR)
    viewer = make_member(tenant_a, Role.VIEWER)
    with pytest.raises(services.ServiceError, match="admins and owners"):
        services.membership_remove(
            membership=_membership(viewer, tenant_a), actor=editor, actor_membership=_membership(editor, tenant_a)
        )
    assert Membership.objects.filter(user=viewer).exists()


def test_member_can_leave_and_it_is_audited(tenant_a, alice):
    viewer = make_member(tenant_a, Role.VIEWER, "leaver@example.com")
    m = _membership(viewer, tenant_a)
    services.membership_remove(membership=m, actor=viewer, actor_membership=m)
    assert not Membership.objects.filter(pk=m.pk).exists()
    entry = AuditEntry.objects.get(tenant=tenant_a, action="member.leave")
    assert entry.before == {"user": "leaver@example.com", "role": "viewer"}


# ---------------------------------------------------------------- invitations


def test_invitation_sends_email_with_accept_link(tenant_a, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = make_invitation(tenant_a, "Dan@Example.com", Role.EDITOR)
    assert invitation.email == "dan@example.com"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dan@example.com"]
    assert services.invitation_url(invitation=invitation) in message.body
    assert AuditEntry.objects.filter(tenant=tenant_a, action="invitation.create").exists()


def test_invitation_token_round_trip_and_accept(tenant_a, alice):
    invitation = make_invitation(tenant_a, "dan@example.com", Role.EDITOR)
    token = services.invitation_token(invitation=invitation)
    assert services.invitation_from_token(token=token).pk == invitation.pk
    dan = make_user("dan@example.com")
    membership = services.invitation_accept(invitation=invitation, user=dan)
    assert membership.role == Role.EDITOR and membership.tenant == tenant_a
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED and invitation.accepted_at is not None
    with pytest.raises(services.ServiceError, match="already been used"):
        services.invitation_from_token(token=token)


def test_invitation_token_expires_by_its_issue_time(tenant_a, alice):
    invitation = make_invitation(tenant_a)
    max_age = settings.INVITE_MAX_AGE_SECONDS
    fresh = services.invitation_token(invitation=invitation, issued_at=time.time() - max_age + 60)
    assert services.invitation_from_token(token=fresh).pk == invitation.pk
    stale = services.invitation_token(invitation=invitation, issued_at=time.time() - max_age - 60)
    with pytest.raises(services.ServiceError, match="expired"):
        services.invitation_from_token(token=stale)


def test_invitation_link_ages_with_the_row(tenant_a, alice):
    invitation = make_invitation(tenant_a)
    past = invitation.created_at - __import__("datetime").timedelta(seconds=settings.INVITE_MAX_AGE_SECONDS + 5)
    Invitation.objects.filter(pk=invitation.pk).update(created_at=past)
    invitation.refresh_from_db()
    with pytest.raises(services.ServiceError, match="expired"):
        services.invitation_from_token(token=services.invitation_token(invitation=invitation))


def test_bad_tampered_and_revoked_tokens_are_refused(tenant_a, alice):
    invitation = make_invitation(tenant_a)
    token = services.invitation_token(invitation=invitation)
    with pytest.raises(services.ServiceError, match="not valid"):
        services.invitation_from_token(token="garbage")
    with pytest.raises(services.ServiceError, match="not valid"):
        services.invitation_from_token(token=token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    services.invitation_revoke(invitation=invitation, actor=alice)
    with pytest.raises(services.ServiceError, match="revoked"):
        services.invitation_from_token(token=token)


def test_invitation_is_for_its_own_email_and_not_for_members(tenant_a, alice):
    invitation = make_invitation(tenant_a, "dan@example.com")
    eve = make_user("eve@example.com")
    with pytest.raises(services.ServiceError, match=r"sent to dan@example\.com"):
        services.invitation_accept(invitation=invitation, user=eve)
    assert not Membership.objects.filter(user=eve).exists()
    owner = _membership(alice, tenant_a)
    with pytest.raises(services.ServiceError, match="already a member"):
        services.invitation_create(
            tenant=tenant_a, email="alice@example.com", role=Role.VIEWER, actor=alice, actor_membership=owner
        )
    with pytest.raises(services.ServiceError, match="pending invitation"):
        services.invitation_create(
            tenant=tenant_a, email="DAN@example.com", role=Role.VIEWER, actor=alice, actor_membership=owner
        )


# ---------------------------------------------------------------- API tokens


def test_api_token_key_format_and_only_hash_stored(tenant_a, alice):
    new = services.api_token_create(tenant=tenant_a, name="ci", scopes=["start", "read"], actor=alice)
    prefix = new.token.prefix
    assert new.key.startswith(f"fy_{prefix}_") and len(new.key) > 40
    token = ApiToken.objects.get(pk=new.token.pk)
    assert token.hashed_key == ApiToken.hash_key(new.key)
    assert token.scopes == ["read", "start"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM admin_ui_apitoken WHERE id = %s", [token.pk])
        raw = " ".join(str(v) for v in cursor.fetchone())
    assert new.key not in raw
    entry = AuditEntry.objects.get(tenant=tenant_a, action="token.create")
    assert new.key not in str(entry.after)


def test_api_token_validation_and_revoke(tenant_a, alice):
    with pytest.raises(services.ServiceError, match="Unknown scope"):
        services.api_token_create(tenant=tenant_a, name="x", scopes=["admin"], actor=alice)
    with pytest.raises(services.ServiceError, match="at least one"):
        services.api_token_create(tenant=tenant_a, name="x", scopes=[], actor=alice)
    token = make_token(tenant_a).token
    services.api_token_revoke(token=token, actor=alice)
    assert token.revoked_at is not None and not token.is_active
    with pytest.raises(services.ServiceError, match="already revoked"):
        services.api_token_revoke(token=token, actor=alice)
    assert AuditEntry.objects.filter(tenant=tenant_a, action="token.revoke").count() == 1


# ---------------------------------------------------------------- applications and installs


def test_application_sync_is_idempotent_and_repairs_rows(db):
    assert set(Application.objects.values_list("key", flat=True)) >= set(REGISTRY)
    assert application_sync() == 0
    Application.objects.filter(key="http-api").update(name="Old name")
    assert application_sync() == 1
    assert Application.objects.get(key="http-api").name == REGISTRY["http-api"].name
    assert Application.objects.filter(key="http-api").count() == 1


def test_install_secrets_are_encrypted_at_rest(tenant_a):
    install = make_install(tenant_a)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets, settings FROM admin_ui_applicationinstall WHERE id = %s", [install.pk])
        raw_secrets, raw_settings = cursor.fetchone()
    assert SECRET not in raw_secrets
    assert raw_secrets.startswith("gAAAA")  # a Fernet token
    assert "shop.example.com" in str(raw_settings)
    assert ApplicationInstall.objects.get(pk=install.pk).secrets == {"token": SECRET}


def test_install_credentials_merges_settings_and_secrets(tenant_a):
    install = make_install(tenant_a)
    creds = services.install_credentials(install=ApplicationInstall.objects.get(pk=install.pk))
    assert creds == {"base_url": "https://shop.example.com/api", "auth_type": "bearer", "token": SECRET}


def test_install_validation_per_auth_type(tenant_a):
    app = Application.objects.get(key="http-api")
    with pytest.raises(ValidationError) as exc:
        services.install_create(
            tenant=tenant_a,
            application=app,
            name="X",
            values={"base_url": "ftp://nope", "auth_type": "oauth2_client_credentials", "client_id": "c"},
            actor=None,
        )
    errors = exc.value.message_dict
    assert errors["base_url"] == ["Enter a valid http(s) URL."]
    assert errors["token_url"] == ["Token URL is required."]
    assert errors["client_secret"] == ["Client secret is required."]
    assert "scope" not in errors  # optional
    with pytest.raises(ValidationError) as exc:
        services.install_create(
            tenant=tenant_a, application=app, name="X", values={"base_url": "https://a.b", "bogus": "1"}, actor=None
        )
    assert "Unknown field" in exc.value.message_dict["__all__"][0]
    assert not ApplicationInstall.objects.filter(tenant=tenant_a).exists()


def test_install_update_keeps_blank_secret_and_drops_other_auth_fields(tenant_a):
    install = make_install(tenant_a)
    services.install_update(
        install=install, values={"base_url": "https://new.example.com", "auth_type": "bearer", "token": ""}, actor=None
    )
    install = ApplicationInstall.objects.get(pk=install.pk)
    assert install.secrets == {"token": SECRET}
    assert install.settings["base_url"] == "https://new.example.com"
    services.install_update(
        install=install,
        values={"base_url": "https://new.example.com", "auth_type": "basic", "username": "u", "password": "pw-1"},
        actor=None,
    )
    install = ApplicationInstall.objects.get(pk=install.pk)
    assert install.secrets == {"password": "pw-1"}  # the old bearer token is not kept around
    assert install.settings == {"base_url": "https://new.example.com", "auth_type": "basic", "username": "u"}


def test_install_audit_never_contains_secret_values(tenant_a):
    install = make_install(tenant_a)
    services.install_update(install=install, enabled=False, actor=None)
    services.install_update(
        install=install, values={"base_url": "https://x.io", "token": "other-secret-99"}, actor=None
    )
    services.install_delete(install=install, actor=None)
    actions = list(AuditEntry.objects.filter(tenant=tenant_a).values_list("action", flat=True))
    assert set(actions) >= {"install.create", "install.disable", "install.update", "install.delete"}
    dump = str(list(AuditEntry.objects.filter(tenant=tenant_a).values("before", "after")))
    assert SECRET not in dump and "other-secret-99" not in dump
    assert mask_secret(SECRET) in dump and SECRET[-4:] not in dump


def test_install_names_are_unique_per_tenant(tenant_a, tenant_b):
    make_install(tenant_a, name="Shop")
    make_install(tenant_b, name="Shop")  # another tenant may reuse it
    with pytest.raises(ValidationError) as exc:
        make_install(tenant_a, name="shop")
    assert "already exists" in exc.value.message_dict["name"][0]


def test_mask_secret_shows_no_character():
    assert mask_secret("abcdefghijkl1234") == "••••••••"
    assert mask_secret("short") == "••••••••"
    assert mask_secret("") == ""
