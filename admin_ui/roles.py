"""The permission matrix: what each role may do. Every page and endpoint checks one of these."""

from __future__ import annotations

from enum import StrEnum

from admin_ui.models import Role


class Perm(StrEnum):
    VIEW = "view"  # read anything in the tenant
    OPERATE = "operate"  # work the trash, start and terminate processes
    EDIT = "edit"  # edit, publish, enable topologies
    MANAGE = "manage"  # members, applications, limits, API tokens
    DELETE_TENANT = "delete_tenant"


# Each role has the permissions of the roles below it plus its own.
ROLE_PERMS: dict[str, frozenset[Perm]] = {
    Role.VIEWER: frozenset({Perm.VIEW}),
    Role.OPERATOR: frozenset({Perm.VIEW, Perm.OPERATE}),
    Role.EDITOR: frozenset({Perm.VIEW, Perm.OPERATE, Perm.EDIT}),
    Role.ADMIN: frozenset({Perm.VIEW, Perm.OPERATE, Perm.EDIT, Perm.MANAGE}),
    Role.OWNER: frozenset({Perm.VIEW, Perm.OPERATE, Perm.EDIT, Perm.MANAGE, Perm.DELETE_TENANT}),
}

# Which permission each API token scope grants.
SCOPE_PERMS: dict[str, frozenset[Perm]] = {
    "read": frozenset({Perm.VIEW}),
    "start": frozenset({Perm.VIEW, Perm.OPERATE}),
    "trash": frozenset({Perm.VIEW, Perm.OPERATE}),
    "write": frozenset({Perm.VIEW, Perm.OPERATE, Perm.EDIT}),
}


def role_has(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMS.get(role, frozenset())


def scopes_have(scopes: list[str], perm: Perm) -> bool:
    return any(perm in SCOPE_PERMS.get(scope, frozenset()) for scope in scopes)
