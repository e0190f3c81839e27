import datetime

import pytest
from django.utils import timezone

from admin_ui import selectors, services
from admin_ui.filters import AuditFilter
from admin_ui.models import AuditEntry, Invitation, Role
from tests.admin_ui.factories import make_install, make_invitation, make_token
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def test_lists_are_scoped_by_tenant(tenant_a, tenant_b, alice, bob):
    make_member(tenant_b, Role.VIEWER, "carol@example.com")
    make_invitation(tenant_b)
    make_token(tenant_b)
    make_install(tenant_b)
    assert [m.user.email for m in selectors.member_list(tenant=tenant_a)] == ["alice@example.com"]
    assert not selectors.invitation_list(tenant=tenant_a).exists()
    assert not selectors.api_token_list(tenant=tenant_a).exists()
    assert not selectors.install_list(tenant=tenant_a).exists()
    assert selectors.member_list(tenant=tenant_b).count() == 2


def test_invitation_list_pending_only_by_default(tenant_a, alice):
    kept = make_invitation(tenant_a)
    gone = make_invitation(tenant_a)
    services.invitation_revoke(invitation=gone, actor=alice)
    assert list(selectors.invitation_list(tenant=tenant_a)) == [kept]
    assert selectors.invitation_list(tenant=tenant_a, pending_only=False).count() == 2
    assert gone.status == Invitation.Status.REVOKED


def test_tokens_list_active_first(tenant_a):
    old = make_token(tenant_a, name="old").token
    make_token(tenant_a, name="new")
    services.api_token_revoke(token=old, actor=None)
    names = [t.name for t in selectors.api_token_list(tenant=tenant_a)]
    assert names[-1] == "old"
    assert [t.name for t in selectors.api_token_list(tenant=tenant_a, include_revoked=False)] == ["new"]


def test_audit_filters(tenant_a, tenant_b, alice):
    services.audit_log(tenant=tenant_a, actor=alice, action="member.remove", object_type="member")
    services.audit_log(tenant=tenant_a, actor=None, action="token.create", object_type="api_token")
    old = services.audit_log(tenant=tenant_a, actor=alice, action="token.revoke", object_type="api_token")
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - datetime.timedelta(days=10))
    services.audit_log(tenant=tenant_b, actor=None, action="token.create", object_type="api_token")

    def count(**kw):
        filters = AuditFilter({k: str(v) for k, v in kw.items()}, tenant=tenant_a)
        assert filters.is_valid(), filters.errors
        return filters.qs.count()

    assert count() == 3
    assert count(action="token.create") == 1
    assert count(action="token.") == 2  # a trailing dot filters a family of actions
    assert count(object_type="member") == 1
    assert count(actor="ALICE") == 2
    today = timezone.localdate()
    assert count(date_from=today - datetime.timedelta(days=1)) == 2
    assert count(date_to=today - datetime.timedelta(days=5)) == 1
    facets = selectors.audit_facets(tenant=tenant_a)
    assert facets == {
        "actions": ["member.remove", "token.create", "token.revoke"],
        "object_types": ["api_token", "member"],
    }


def test_audit_diff_shows_only_changed_keys(tenant_a):
    entry = services.audit_log(
        tenant=tenant_a,
        actor=None,
        action="install.update",
        before={"name": "A", "enabled": True, "settings": {"base_url": "https://a", "auth_type": "none"}},
        after={
            "name": "A",
            "enabled": False,
            "settings": {"base_url": "https://b", "auth_type": "none"},
            "tags": ["x", "y"],
        },
    )
    rows = {row["key"]: row for row in selectors.audit_diff(entry)}
    assert set(rows) == {"enabled", "settings.base_url", "tags"}
    assert rows["settings.base_url"]["before"] == "https://a" and rows["settings.base_url"]["after"] == "https://b"
    assert rows["tags"] == {"key": "tags", "before": None, "after": "x, y", "had": False, "has": True}


def test_application_list_and_get(db):
    keys = [app.key for app, _ in selectors.application_list()]
    assert "http-api" in keys and "slack-webhook" in keys
    from django.http import Http404

    with pytest.raises(Http404):
        selectors.application_get(key="nope")
