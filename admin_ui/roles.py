"""The permission matrices: what each role may do, and which API endpoints each token scope opens.

Every page and endpoint checks a role permission; an API token additionally needs a scope that opens the endpoint
and method in TOKEN_SCOPE_MATRIX, and its power never exceeds its creator's current role.
"""

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

GET = frozenset({"GET"})

# Which API endpoints (URL names) and methods each token scope opens; HEAD and OPTIONS count as GET.
# Anything not listed here is closed to every token: members, invitations, tokens, installs and the tenant
# itself are managed in a session only. tests/admin_ui/test_token_scopes.py sweeps every API URL pattern
# against this matrix, so a new endpoint must be added here (or to SESSION_ONLY_ENDPOINTS).
TOKEN_SCOPE_MATRIX: dict[str, dict[str, frozenset[str]]] = {
    "read": {
        "api-tenant": GET,
        "api-member-list": GET,
        "api-member-detail": GET,
        "api-application-list": GET,
        "api-install-list": GET,
        "api-install-detail": GET,
        "install_options": GET,
        "api_node_registry": GET,
        "api_topology_list": GET,
        "api_topology_detail": GET,
        "api_version_list": GET,
        "api_version_diff": GET,
        "api_version_detail": GET,
        "api_version_xml": GET,
        "api_version_export": GET,
        "api_process_list": GET,
        "api_process_detail": GET,
        "api_limit_list": GET,
        "api_limit_detail": GET,
        "api_trash_list": GET,
        "api_trash_groups": GET,
        "api_trash_detail": GET,
        "api_trash_history": GET,
        "api_trash_bulk_list": GET,
        "api_trash_bulk_detail": GET,
    },
    "write": {
        "api_topology_list": frozenset({"POST"}),
        "api_topology_detail": frozenset({"PATCH", "DELETE"}),
        "api_topology_import": frozenset({"POST"}),
        "api_version_xml": frozenset({"PUT"}),
        "api_version_publish": frozenset({"POST"}),
        "api_version_enable": frozenset({"POST"}),
        "api_version_disable": frozenset({"POST"}),
        # Limits are configuration too; the creator's role still decides (admins and owners manage limits).
        "api_limit_list": frozenset({"POST"}),
        "api_limit_detail": frozenset({"PATCH", "DELETE"}),
    },
    "start": {
        "api_topology_start": frozenset({"POST"}),
        "api_process_terminate": frozenset({"POST"}),
        # A webhook URL starts processes: seeing, rotating and revoking them belongs with starting.
        "api_webhook_list": GET,
        "api_webhook_rotate": frozenset({"POST"}),
        "api_webhook_revoke": frozenset({"POST"}),
        "api_webhook_signing": frozenset({"POST"}),
    },
    # The trash scope opens exactly the trash API: read, edit, resend, reject, try and bulk jobs.
    "trash": {
        "api_trash_list": GET,
        "api_trash_groups": GET,
        "api_trash_detail": frozenset({"GET", "PATCH"}),
        "api_trash_history": GET,
        "api_trash_resend": frozenset({"POST"}),
        "api_trash_reject": frozenset({"POST"}),
        "api_trash_try": frozenset({"POST"}),
        "api_trash_bulk_list": frozenset({"GET", "POST"}),
        "api_trash_bulk_detail": GET,
        "api_trash_bulk_cancel": frozenset({"POST"}),
    },
}

# API endpoints no token scope opens, by design (session users with the role only).
SESSION_ONLY_ENDPOINTS: frozenset[str] = frozenset(
    {"api-invitation-list", "api-invitation-detail", "api-token-list", "api-token-detail"}
)

SCOPE_DESCRIPTIONS: dict[str, str] = {
    "read": "GET topologies, versions, processes, trash, limits, installs and members",
    "write": "create, edit, import, publish, enable and disable topologies; create, edit and delete limits",
    "start": "start and terminate processes, see and rotate webhooks",
    "trash": "work the trash (read, edit, try, resend, reject, bulk jobs)",
}


def role_has(role: str, perm: Perm) -> bool:
    return perm in ROLE_PERMS.get(role, frozenset())


def scope_opens(scopes: list[str], url_name: str, method: str) -> bool:
    """Whether one of `scopes` opens `method` on the API endpoint named `url_name`."""
    wanted = "GET" if method in ("GET", "HEAD", "OPTIONS") else method
    return any(wanted in TOKEN_SCOPE_MATRIX.get(scope, {}).get(url_name, frozenset()) for scope in scopes)
