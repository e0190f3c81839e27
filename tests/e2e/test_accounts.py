"""Accounts end to end: sign up, tenant, invite + accept in a second browser, roles, API token, install, audit."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model

from admin_ui.models import ApiToken, ApplicationInstall, Membership, Role
from admin_ui.services import signup_path

PASSWORD = "e2e-long-password-42"
SECRET = "tok-live-8b1f2c3d4e5f6a7b9999"


def _signup(page, email: str, next_url: str = "") -> None:
    """Sign up by email, then follow the emailed link (built here: the server's mail goes to its console)."""
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_test_id("signup-sent").wait_for()
    user = get_user_model().objects.get(username=email)
    page.goto(signup_path(user=user, next_url=next_url))
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Finish signing up").click()


@pytest.mark.django_db(transaction=True)
def test_accounts_journey(page, new_page, live_server, screenshot):
    page.on("dialog", lambda dialog: dialog.accept())

    # Sign up, then create the first tenant.
    page.goto("/accounts/signup/")
    _signup(page, "owner@e2e.example.com")
    page.wait_for_url("**/tenants/new/")
    assert page.get_by_role("heading", name="Create your first tenant").is_visible()
    page.get_by_label("Tenant name").fill("E2E Works")
    page.get_by_role("button", name="Create tenant").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("tenant-switcher").inner_text().startswith("E2E Works")

    # Invite a member; the link is shown to the inviter.
    page.goto("/settings/members/")
    form = page.get_by_test_id("invite-form")
    form.get_by_label("Email").fill("member@e2e.example.com")
    form.get_by_label("Role").select_option("editor")
    form.get_by_role("button", name="Send invitation").click()
    page.wait_for_load_state()
    assert "Invitation sent to member@e2e.example.com" in page.locator(".flashes").inner_text()
    link = page.locator("#invite-url").inner_text().strip()
    assert "/invites/" in link
    assert page.get_by_test_id("invitations").get_by_text("member@e2e.example.com").is_visible()

    # The invitee opens the link logged out, signs up and comes back to accept.
    other = new_page()
    other.goto(link)
    assert other.get_by_role("heading", name="Join E2E Works").is_visible()
    screenshot(other, "accounts-invite-accept")
    other.get_by_test_id("invite-accept").get_by_role("link", name="Sign up").click()
    assert other.get_by_label("Email").input_value() == "member@e2e.example.com"
    _signup(other, "member@e2e.example.com", next_url=urlsplit(link).path)
    other.wait_for_url(re.compile(r".*/invites/.*"))
    other.get_by_role("button", name="Accept invitation").click()
    other.wait_for_load_state()
    assert other.get_by_test_id("tenant-switcher").inner_text().startswith("E2E Works")
    member = Membership.objects.get(user__email="member@e2e.example.com")
    assert member.role == Role.EDITOR

    # The owner changes the member's role.
    page.goto("/settings/members/")
    row = page.locator('tr[data-member="member@e2e.example.com"]')
    row.get_by_label("Role of member@e2e.example.com").select_option("operator")
    row.get_by_role("button", name="Change").click()
    page.wait_for_load_state()
    assert "is now operator" in page.locator(".flashes").inner_text()
    member.refresh_from_db()
    assert member.role == Role.OPERATOR
    screenshot(page, "accounts-members")
    # The operator sees the members and the role matrix, without management controls.
    other.goto("/settings/members/")
    assert other.get_by_test_id("role-matrix").is_visible()
    assert other.get_by_test_id("invite-form").count() == 0
    screenshot(other, "accounts-members-operator")

    # An API token: key shown once, then revoked.
    page.goto("/settings/tokens/")
    token_form = page.get_by_test_id("token-form")
    token_form.get_by_label("Name").fill("CI deploy")
    token_form.get_by_label("Start and terminate processes").check()
    token_form.get_by_role("button", name="Create token").click()
    page.wait_for_load_state()
    key = page.locator("#new-token-key").inner_text().strip()
    assert re.fullmatch(r"fy_[0-9a-f]{8}_\S+", key)
    assert ApiToken.objects.get(name="CI deploy").hashed_key == ApiToken.hash_key(key)
    screenshot(page, "accounts-tokens-new")
    page.reload()
    assert key not in page.content()
    page.locator('tr[data-token="CI deploy"]').get_by_role("button", name="Revoke").click()
    page.wait_for_load_state()
    assert page.locator('tr[data-token="CI deploy"] .badge-revoked').is_visible()
    assert ApiToken.objects.get(name="CI deploy").revoked_at is not None
    screenshot(page, "accounts-tokens")

    # Install an application with a secret; the list shows it masked.
    page.goto("/applications/")
    assert page.get_by_text("No applications installed").is_visible()
    page.get_by_role("link", name="+ Install application").click()
    page.locator(".install-card", has_text="HTTP API").get_by_role("link", name="Install").click()
    page.get_by_label("Install name").fill("Shop API")
    page.get_by_label("Base URL").fill("https://shop.example.com/v1")
    assert not page.get_by_label("Bearer token").is_visible()
    page.get_by_label("Authentication").select_option("bearer")
    assert page.get_by_label("Bearer token").is_visible()
    assert not page.get_by_label("Client secret").is_visible()
    page.get_by_label("Bearer token").fill(SECRET)
    screenshot(page, "accounts-install-form")
    page.get_by_role("button", name="Install").click()
    page.wait_for_url("**/applications/")
    card = page.locator('[data-install="Shop API"]')
    assert "••••••••" in card.inner_text() and SECRET[-4:] not in card.inner_text()
    assert SECRET not in page.content()
    assert ApplicationInstall.objects.get(name="Shop API").secrets == {"token": SECRET}
    screenshot(page, "accounts-applications")

    page.goto("/settings/audit/")
    audit = page.get_by_test_id("audit").inner_text()
    for action in ["install.create", "token.revoke", "token.create", "member.role_change", "invitation.accept"]:
        assert action in audit
    assert SECRET not in page.content()
    screenshot(page, "accounts-audit")

    page.goto("/settings/")
    assert page.get_by_role("link", name="Delete tenant…").is_visible()
    screenshot(page, "accounts-settings-general")


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_from_local_files(page, live_server, login, screenshot):
    from tests.factories import make_member, make_tenant

    login(page, make_member(make_tenant("Docs Co"), Role.VIEWER, "docs@e2e.example.com"))
    external = []
    page.on("request", lambda request: external.append(request.url) if live_server.url not in request.url else None)
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Flowyard API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.get_by_text("/api/installs/", exact=True).first.is_visible()
    assert not [url for url in external if url.startswith("http")], external
    screenshot(page, "accounts-api-docs")
