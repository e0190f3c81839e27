"""The Limits page in the browser: empty state, create with a form error, live usage bar, chart, edit, delete.
Usage comes from the real Redis limiter (the calls an engine would make). Screenshots at 1400 and 390 px."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from admin_ui.models import Application, Role
from limiter.models import Limit
from tests.factories import make_member, make_tenant
from topology.runtime import ratelimit, state

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop():
    key = f"shop-{uuid.uuid4().hex[:8]}"
    application = Application.objects.create(key=key, name="Shop API")
    yield application
    keys = list(state.client().scan_iter(f"{ratelimit._prefix()}:*{key}*", count=1000))
    if keys:
        state.client().delete(*keys)


def test_limits_page_create_watch_usage_edit_delete(page, new_page, login, screenshot, shop):
    tenant = make_tenant("Limits e2e")
    admin = make_member(tenant, Role.ADMIN)
    login(page, admin)
    page.goto("/limits/")
    expect(page.get_by_text("No limits yet")).to_be_visible()
    screenshot(page, "limits-empty")

    page.get_by_test_id("limit-usage").get_by_role("link", name="New limit").click()
    page.get_by_label("Application").select_option(str(shop.pk))
    page.get_by_label("Calls").fill("0")
    page.get_by_label("Per seconds").fill("60")
    page.get_by_role("button", name="Create limit").click()
    expect(page.get_by_text("Ensure this value is greater than or equal to 1")).to_be_visible()
    page.get_by_label("Calls").fill("10")
    page.get_by_role("button", name="Create limit").click()
    expect(page.get_by_text("Limit set: Shop API: 10 per 60 s")).to_be_visible()
    limit = Limit.objects.get(application=shop)

    # Three calls through the limiter, as an engine would make them: the bar follows within a poll.
    for i in range(3):
        assert ratelimit.acquire([ratelimit.Rate(limit.key, 10, 60)], member=f"e2e-{i}").admitted
    expect(page.get_by_test_id("limit-used")).to_have_text("3 / 10", timeout=10_000)
    expect(page.locator("#limit-chart[data-ready='1']")).to_be_attached(timeout=10_000)
    screenshot(page, "limits-usage")

    narrow = new_page()
    narrow.set_viewport_size({"width": 390, "height": 844})
    login(narrow, admin)
    narrow.goto("/limits/")
    expect(narrow.get_by_test_id("limit-used")).to_have_text("3 / 10")
    screenshot(narrow, "limits-usage-390")

    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Calls").fill("20")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("limit-used")).to_have_text("3 / 20", timeout=10_000)
    page.get_by_role("link", name="Delete").click()
    page.get_by_test_id("limit-delete-confirm").click()
    expect(page.get_by_text("No limits yet")).to_be_visible()
    assert not Limit.objects.filter(application=shop).exists()


def test_viewers_see_limits_without_edit_controls(page, login, screenshot, shop):
    tenant = make_tenant("Limits viewer")
    viewer = make_member(tenant, Role.VIEWER)
    Limit.objects.create(tenant=tenant, application=shop, key=f"{tenant.pk}|{shop.key}", amount=5, seconds=1)
    login(page, viewer)
    page.goto("/limits/")
    expect(page.get_by_test_id("limit-row")).to_contain_text("5 per 1 s")
    expect(page.get_by_role("link", name="New limit")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
