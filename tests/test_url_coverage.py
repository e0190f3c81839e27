"""Every named URL of the project is either public or covered by a tenant-isolation test."""

from __future__ import annotations

import importlib
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

TESTS = Path(__file__).resolve().parent

# Reachable without a tenant membership by design (authentication, public tokens, docs, health, Django admin).
PUBLIC_URL_NAMES = {
    "home",
    "healthz",
    "login",
    "logout",
    "signup",
    "signup_confirm",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "invite_accept",
    "webhook_start",  # authenticated by its own secret token, not by a session
    "api-schema",
    "api-docs",
    "api-redoc",
    "static",
}
PUBLIC_PREFIXES = ("admin:",)


def _names(patterns: list, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= _names(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            if pattern.name:
                names.add(namespace + pattern.name)
            else:
                names.add(f"{namespace}<unnamed {pattern.pattern}>")
    return names


def all_url_names() -> set[str]:
    return _names(get_resolver().url_patterns)


def all_socket_route_names() -> set[str]:
    """Websocket routes (admin_ui/routing.py); none is public: every one must refuse other tenants."""
    from admin_ui.routing import websocket_urlpatterns

    return _names(websocket_urlpatterns)


def covered_url_names() -> set[str]:
    """The union of COVERED_URL_NAMES of every tests/**/test_isolation*.py module."""
    covered: set[str] = set()
    for path in sorted(TESTS.rglob("test_isolation*.py")):
        module_name = ".".join(path.relative_to(TESTS.parent).with_suffix("").parts)
        module = importlib.import_module(module_name)
        covered |= set(getattr(module, "COVERED_URL_NAMES", set()))
    return covered


def test_collector_sees_namespaced_and_nested_names():
    names = all_url_names()
    assert {"login", "api-tenant", "member_list"} <= names
    assert any(name.startswith("admin:") for name in names)


def test_every_url_is_public_or_covered_by_an_isolation_test():
    covered = covered_url_names()
    missing = sorted(
        name
        for name in all_url_names()
        if name not in PUBLIC_URL_NAMES and name not in covered and not name.startswith(PUBLIC_PREFIXES)
    )
    print("URL names neither public nor covered:", "\n  ".join(["", *missing]) if missing else "none")
    assert not missing, f"add isolation tests (and COVERED_URL_NAMES) for: {', '.join(missing)}"


def test_every_socket_route_is_covered_by_an_isolation_test():
    names = all_socket_route_names()
    assert names, "the live monitoring sockets are routed"
    missing = sorted(names - covered_url_names())
    assert not missing, f"add isolation tests (and COVERED_URL_NAMES) for socket routes: {', '.join(missing)}"


def test_covered_names_exist():
    """A COVERED_URL_NAMES entry that matches no URL is a typo that would hide a gap."""
    unknown = sorted(covered_url_names() - all_url_names() - all_socket_route_names())
    print("Covered names that match no URL:", unknown)
    assert not unknown
