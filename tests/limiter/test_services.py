"""Limit writes: validation, uniqueness, staff-only group limits, audit entries; the pages and API over them."""

import pytest

from admin_ui.errors import ServiceError
from admin_ui.models import Application, AuditEntry, Role
from limiter import services
from limiter.models import Limit
from tests.factories import make_member


@pytest.fixture
def shop(db):
    return Application.objects.create(key="shop-api-test", name="Shop API")


@pytest.mark.django_db
def test_create_update_delete_are_audited_and_keyed_by_tenant_and_application(tenant_a, alice, shop):
    limit = services.limit_create(tenant=tenant_a, application=shop, amount=10, seconds=1, actor=alice)
    assert limit.key == f"{tenant_a.pk}|shop-api-test" and not limit.is_group
    services.limit_update(limit=limit, amount=20, seconds=2, tenant=tenant_a, actor=alice)
    services.limit_delete(limit=limit, tenant=tenant_a, actor=alice)
    entries = list(AuditEntry.objects.filter(tenant=tenant_a, object_type="limit").order_by("id"))
    assert [e.action for e in entries] == ["limit.create", "limit.update", "limit.delete"]
    assert entries[1].before["amount"] == 10 and entries[1].after == {
        "application": "shop-api-test",
        "scope": "tenant",
        "amount": 20,
        "seconds": 2,
    }
    assert not Limit.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("amount", "seconds", "field"), [(0, 1, "amount"), (10, 0, "seconds"), ("x", 1, "amount")])
def test_bad_rates_are_refused_and_nothing_changes(tenant_a, alice, shop, amount, seconds, field):
    with pytest.raises(ServiceError) as caught:
        services.limit_create(tenant=tenant_a, application=shop, amount=amount, seconds=seconds, actor=alice)
    assert field in caught.value.errors
    assert not Limit.objects.exists() and not AuditEntry.objects.filter(object_type="limit").exists()


@pytest.mark.django_db
def test_one_limit_per_application_and_group_limits_for_staff_only(tenant_a, alice, shop):
    services.limit_create(tenant=tenant_a, application=shop, amount=10, seconds=1, actor=alice)
    with pytest.raises(ServiceError, match="already has a limit"):
        services.limit_create(tenant=tenant_a, application=shop, amount=5, seconds=1, actor=alice)
    with pytest.raises(ServiceError, match="Only staff"):
        services.limit_create(tenant=tenant_a, application=shop, amount=50, seconds=1, group=True, actor=alice)
    alice.is_staff = True
    group = services.limit_create(tenant=tenant_a, application=shop, amount=50, seconds=1, group=True, actor=alice)
    assert group.key == "|shop-api-test" and group.tenant is None


@pytest.mark.django_db
def test_pages_create_edit_delete_with_form_errors(alice_client, tenant_a, shop):
    bad = alice_client.post("/limits/new/", {"application": shop.pk, "amount": 0, "seconds": 1})
    assert bad.status_code == 400 and b"Ensure this value is greater than or equal to 1" in bad.content
    assert alice_client.post("/limits/new/", {"application": shop.pk, "amount": 10, "seconds": 1}).status_code == 302
    limit = Limit.objects.get()
    page = alice_client.get("/limits/").content.decode()
    assert "10 per 1 s" in page and 'max="10"' in page and "limit-chart" in page
    assert alice_client.post(f"/limits/{limit.pk}/edit/", {"amount": 7, "seconds": 2}).status_code == 302
    limit.refresh_from_db()
    assert (limit.amount, limit.seconds) == (7, 2)
    assert alice_client.post(f"/limits/{limit.pk}/delete/").status_code == 302
    assert not Limit.objects.exists()


@pytest.mark.django_db
def test_viewers_read_but_do_not_edit(client, tenant_a, shop):
    viewer = make_member(tenant_a, Role.VIEWER)
    client.force_login(viewer)
    Limit.objects.create(tenant=tenant_a, application=shop, key=f"{tenant_a.pk}|x", amount=3, seconds=1)
    page = client.get("/limits/").content.decode()
    assert "3 per 1 s" in page and "New limit" not in page
    assert client.get("/limits/new/").status_code == 403
    assert client.post("/api/limits/", {"application": shop.key, "amount": 1, "seconds": 1}).status_code == 403


@pytest.mark.django_db
def test_api_create_validates_and_lists_live_usage(alice_client, shop):
    bad = alice_client.post("/api/limits/", {"application": shop.key, "amount": 0, "seconds": 1})
    assert bad.status_code == 400 and "amount" in bad.json()["errors"]
    created = alice_client.post("/api/limits/", {"application": shop.key, "amount": 10, "seconds": 1})
    assert created.status_code == 201
    assert created.json()["used"] == 0 and created.json()["waiting"] == 0
    again = alice_client.post("/api/limits/", {"application": shop.key, "amount": 10, "seconds": 1})
    assert again.status_code == 409
    assert alice_client.get("/api/limits/").json()[0]["amount"] == 10
