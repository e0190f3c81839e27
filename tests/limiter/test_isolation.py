"""One tenant's limits are invisible and unchangeable for another (404), on pages and in the API."""

import pytest

from admin_ui.models import Application
from limiter.models import Limit

COVERED_URL_NAMES = {
    "limit_list",
    "limit_history",
    "limit_create",
    "limit_edit",
    "limit_delete",
    "api_limit_list",
    "api_limit_detail",
}


@pytest.fixture
def shop(db):
    return Application.objects.create(key="shop-api-test", name="Shop API")


@pytest.fixture
def limits(tenant_a, tenant_b, shop):
    return {
        "a": Limit.objects.create(tenant=tenant_a, application=shop, key=f"{tenant_a.pk}|shop", amount=10, seconds=1),
        "b": Limit.objects.create(tenant=tenant_b, application=shop, key=f"{tenant_b.pk}|shop", amount=5, seconds=1),
        "group": Limit.objects.create(tenant=None, application=shop, key="|shop", amount=100, seconds=1),
    }


@pytest.mark.django_db
def test_limits_page_shows_own_and_group_limits_only(alice_client, limits):
    content = alice_client.get("/limits/").content.decode()
    assert limits["a"].key in content and "|shop</code>" in content
    assert limits["b"].key not in content
    history = alice_client.get("/limits/history.json").json()
    assert {s["label"] for s in history["series"]} == {"Shop API", "Shop API (group)"}


@pytest.mark.django_db
def test_limits_page_empty_state_and_tenant_required(alice_client, charlie_client):
    page = alice_client.get("/limits/").content.decode()
    assert "No limits yet" in page and "New limit" in page
    assert charlie_client.get("/limits/").url.startswith("/tenants/new/")
    assert charlie_client.get("/api/limits/").status_code == 403


@pytest.mark.django_db
def test_another_tenants_limit_is_404_on_pages_and_api(bob_client, limits):
    other = limits["a"]
    assert bob_client.get(f"/limits/{other.pk}/edit/").status_code == 404
    assert bob_client.post(f"/limits/{other.pk}/edit/", {"amount": 1, "seconds": 1}).status_code == 404
    assert bob_client.post(f"/limits/{other.pk}/delete/").status_code == 404
    assert bob_client.get(f"/api/limits/{other.pk}/").status_code == 404
    assert (
        bob_client.patch(f"/api/limits/{other.pk}/", {"amount": 1}, content_type="application/json").status_code == 404
    )
    assert bob_client.delete(f"/api/limits/{other.pk}/").status_code == 404
    other.refresh_from_db()
    assert (other.amount, other.seconds) == (10, 1)
    assert {row["key"] for row in bob_client.get("/api/limits/").json()} == {limits["b"].key, "|shop"}


@pytest.mark.django_db
def test_group_limits_are_readable_but_only_staff_change_them(alice_client, alice, limits):
    group = limits["group"]
    assert alice_client.get(f"/api/limits/{group.pk}/").json()["group"] is True
    assert (
        alice_client.patch(f"/api/limits/{group.pk}/", {"amount": 1}, content_type="application/json").status_code
        == 403
    )
    assert alice_client.post(f"/limits/{group.pk}/delete/").status_code == 403
    group.refresh_from_db()
    assert group.amount == 100
