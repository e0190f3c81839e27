"""Shared fixtures: alice (tenant A), bob (tenant B), charlie (no tenant), and logged-in clients."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from django.core.management.base import CommandError
from django.test import Client, TransactionTestCase

from admin_ui.lookup_cache import lookups_changed
from admin_ui.models import Role
from tests.factories import make_member, make_tenant, make_user

_flush_test_database = TransactionTestCase._fixture_teardown


def _flush_retrying_deadlocks(self: TransactionTestCase) -> None:
    # Runtime tests keep engine subprocesses running across tests; their recorder may be writing while the
    # test database is flushed, and PostgreSQL can pick the TRUNCATE as the victim of the resulting deadlock.
    # Those writes are legitimate, so flush again rather than fail the test that just passed.
    for attempt in range(5):
        try:
            _flush_test_database(self)
            return
        except CommandError as exc:
            if "couldn't be flushed" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.5)


TransactionTestCase._fixture_teardown = _flush_retrying_deadlocks  # type: ignore[method-assign]


# Child processes (Daphne in e2e tests, engines) count throttled attempts under a prefix of this run only, and start
# their web process on the development keys on purpose.
os.environ.setdefault("FLOWYARD_THROTTLE_PREFIX", f"fytest-throttle-{uuid.uuid4().hex[:8]}")
os.environ.setdefault("FLOWYARD_ALLOW_DEV_KEYS", "true")


@pytest.fixture(autouse=True)
def _own_throttle_counters(settings):
    # Failed logins of one test must not lock the same account out in the next one (or in the next run).
    settings.FLOWYARD_THROTTLE_PREFIX = f"fytest-throttle-{uuid.uuid4().hex}"


@pytest.fixture(autouse=True)
def _fresh_lookup_caches():
    # A test's rows are rolled back and their ids reused by the next test: start each as a new web worker would.
    lookups_changed()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness dominates test setup; the hasher itself is Django's, not ours.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tenant_a(db):
    return make_tenant("Acme")


@pytest.fixture
def tenant_b(db):
    return make_tenant("Bolt")


@pytest.fixture
def alice(tenant_a):
    return make_member(tenant_a, Role.OWNER, "alice@example.com")


@pytest.fixture
def bob(tenant_b):
    return make_member(tenant_b, Role.OWNER, "bob@example.com")


@pytest.fixture
def charlie(db):
    return make_user("charlie@example.com")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_client(alice) -> Client:
    return _client_for(alice)


@pytest.fixture
def bob_client(bob) -> Client:
    return _client_for(bob)


@pytest.fixture
def charlie_client(charlie) -> Client:
    return _client_for(charlie)


@pytest.fixture
def member_client(tenant_a):
    """Build a logged-in client for a new member of tenant A with the given role."""

    def build(role: str) -> Client:
        return _client_for(make_member(tenant_a, role))

    return build
