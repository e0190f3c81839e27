"""Factories for account rows, built through the services so that they carry audit entries like real ones."""

from __future__ import annotations

import itertools

from admin_ui import services
from admin_ui.models import ApiToken, Application, ApplicationInstall, Invitation, Membership, Role, Tenant
from tests.factories import make_member

_seq = itertools.count(1)
SECRET = "s3cr3t-value-that-must-never-leak-7391"


def owner_membership(tenant: Tenant) -> Membership:
    return Membership.objects.filter(tenant=tenant, role=Role.OWNER).select_related("user").first()


def make_invitation(tenant: Tenant, email: str | None = None, role: str = Role.VIEWER) -> Invitation:
    owner = owner_membership(tenant)
    return services.invitation_create(
        tenant=tenant,
        email=email or f"invitee{next(_seq)}@example.com",
        role=role,
        actor=owner.user,
        actor_membership=owner,
    )


def make_token(
    tenant: Tenant, scopes: list[str] | None = None, name: str | None = None, creator=None
) -> services.NewToken:
    """A token made by `creator` (default: the tenant's owner, made if missing): a token acts as its creator."""
    if creator is None:
        owner = owner_membership(tenant)
        creator = owner.user if owner else make_member(tenant, Role.OWNER)
    return services.api_token_create(
        tenant=tenant, name=name or f"token {next(_seq)}", scopes=scopes or ["read"], actor=creator
    )


def make_install(tenant: Tenant, name: str | None = None, secret: str = SECRET) -> ApplicationInstall:
    return services.install_create(
        tenant=tenant,
        application=Application.objects.get(key="http-api"),
        name=name or f"Shop API {next(_seq)}",
        values={"base_url": "https://shop.example.com/api", "auth_type": "bearer", "token": secret},
        actor=None,
    )


def bearer(token: services.NewToken | str) -> dict[str, str]:
    key = token.key if isinstance(token, services.NewToken) else token
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


__all__ = ["ApiToken", "bearer", "make_install", "make_invitation", "make_token", "owner_membership"]
