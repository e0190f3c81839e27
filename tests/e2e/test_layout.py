import pytest

from admin_ui.models import Role
from tests.factories import make_member, make_tenant


@pytest.mark.django_db(transaction=True)
def test_layout_shows_navigation_and_tenant(page, live_server, login, screenshot):
    tenant = make_tenant("Layout Co")
    user = make_member(tenant, Role.OWNER, "layout@example.com")
    login(page, user)
    page.goto("/topologies/")
    nav = page.locator("nav.mainnav")
    for label in ["Topologies", "Processes", "Trash", "Limits", "Applications", "Settings"]:
        assert nav.get_by_text(label, exact=True).is_visible()
    assert page.get_by_test_id("tenant-switcher").inner_text().startswith("Layout Co")
    # Styles come from the esbuild bundle served by whitenoise, not a CDN.
    background = page.evaluate("getComputedStyle(document.querySelector('.topbar')).backgroundColor")
    assert background == "rgb(17, 24, 39)"
    screenshot(page, "layout-topologies")


@pytest.mark.django_db(transaction=True)
def test_anonymous_user_is_sent_to_login(page, live_server):
    page.goto("/topologies/")
    assert "/accounts/login/" in page.url
    assert page.get_by_role("heading", name="Log in to Flowyard").is_visible()
