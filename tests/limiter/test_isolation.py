import pytest

from admin_ui.models import Application
from limiter.models import Limit

COVERED_URL_NAMES = {"limit_list"}


@pytest.mark.django_db
def test_limits_page_shows_own_and_group_limits_only(alice_client, tenant_a, tenant_b):
    app = Application.objects.create(key="shop-api-test", name="Shop API")
    Limit.objects.create(tenant=tenant_a, application=app, key="alice|shop", amount=10, seconds=1)
    Limit.objects.create(tenant=tenant_b, application=app, key="bob|shop", amount=5, seconds=1)
    Limit.objects.create(tenant=None, application=app, key="|shop", amount=100, seconds=1)
    response = alice_client.get("/limits/")
    assert response.status_code == 200
    assert b"alice|shop" in response.content
    assert b"|shop</code>" in response.content
    assert b"bob|shop" not in response.content


@pytest.mark.django_db
def test_limits_page_empty_state_and_tenant_required(alice_client, charlie_client):
    assert b"No limits yet" in alice_client.get("/limits/").content
    assert charlie_client.get("/limits/").url.startswith("/tenants/new/")
