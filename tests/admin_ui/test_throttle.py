"""Throttling of logins, password resets and sign-ups (per account and per IP) and of API tokens."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from tests.admin_ui.factories import bearer, make_token
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_limits(settings):
    settings.FLOWYARD_THROTTLE_ACCOUNT = 5
    settings.FLOWYARD_THROTTLE_IP = 8
    return settings


def login(client: Client, email: str, password: str, ip: str = "10.0.0.1"):
    return client.post("/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_wrong_passwords_lock_the_account_even_for_the_right_one(low_limits, alice):
    client = Client()
    for _ in range(5):
        assert "Please enter a correct" in login(client, "alice@example.com", "wrong").content.decode()
    refused = login(client, "alice@example.com", PASSWORD, ip="10.0.0.2")  # another IP: the account is locked
    assert refused.status_code == 200 and "Too many failed logins. Try again in 15 minutes." in refused.content.decode()
    assert "_auth_user_id" not in client.session


def test_one_ip_cannot_try_many_accounts(low_limits, alice):
    client = Client()
    for n in range(8):
        login(client, f"nobody{n}@example.com", "wrong", ip="10.9.9.9")
    assert "Too many failed logins" in login(client, "alice@example.com", PASSWORD, ip="10.9.9.9").content.decode()
    # Alice from elsewhere is not affected.
    assert login(Client(), "alice@example.com", PASSWORD, ip="10.1.1.1").status_code == 302


def test_a_successful_login_resets_the_account_counter(low_limits, alice):
    client = Client()
    for _ in range(4):
        login(client, "alice@example.com", "wrong")
    assert login(client, "alice@example.com", PASSWORD).status_code == 302
    for _ in range(4):
        login(Client(), "alice@example.com", "wrong", ip="10.0.0.3")
    assert login(Client(), "alice@example.com", PASSWORD, ip="10.0.0.4").status_code == 302


def test_password_reset_is_throttled_per_account(low_limits, alice):
    client = Client()
    for _ in range(5):
        assert client.post("/accounts/password/reset/", {"email": "alice@example.com"}).status_code == 302
    refused = client.post("/accounts/password/reset/", {"email": "alice@example.com"})
    assert refused.status_code == 429 and "Too many password reset requests" in refused.content.decode()
    assert len(mail.outbox) == 5


def test_signup_is_throttled_per_ip(low_limits):
    client = Client()
    for n in range(8):
        Client().post(
            "/accounts/signup/",
            {"email": f"new{n}@example.com", "password1": "long-enough-pass-1", "password2": "long-enough-pass-1"},
            REMOTE_ADDR="10.7.7.7",
        )
    refused = client.post(
        "/accounts/signup/",
        {"email": "late@example.com", "password1": "long-enough-pass-1", "password2": "long-enough-pass-1"},
        REMOTE_ADDR="10.7.7.7",
    )
    assert refused.status_code == 429 and "Too many sign-ups" in refused.content.decode()


def test_api_tokens_are_throttled_per_token(settings, tenant_a, alice):
    settings.FLOWYARD_API_TOKEN_RATE = "3/min"
    first, second = make_token(tenant_a, ["read"], creator=alice), make_token(tenant_a, ["read"], creator=alice)
    statuses = [Client().get("/api/tenant/", **bearer(first)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = Client().get("/api/tenant/", **bearer(first))
    assert "throttled" in limited.json()["detail"].lower() and int(limited["Retry-After"]) > 0
    assert Client().get("/api/tenant/", **bearer(second)).status_code == 200  # per token
    session = Client()
    session.force_login(alice)
    assert all(session.get("/api/tenant/").status_code == 200 for _ in range(5))  # sessions are not counted
