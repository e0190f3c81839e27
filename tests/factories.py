"""Small factories for tests: real rows through the same models the product uses."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.utils.text import slugify

from admin_ui.models import Membership, Role, Tenant

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery-9"


def make_user(email: str | None = None, password: str = PASSWORD):
    email = email or f"user{next(_seq)}@example.com"
    return get_user_model().objects.create_user(username=email, email=email, password=password)


def make_tenant(name: str | None = None) -> Tenant:
    name = name or f"Tenant {next(_seq)}"
    return Tenant.objects.create(name=name, slug=f"{slugify(name)}-{next(_seq)}")


def make_member(tenant: Tenant, role: str = Role.OWNER, email: str | None = None):
    user = make_user(email)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user
