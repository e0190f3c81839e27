from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from admin_ui.roles import ROLE_PERMS


def tenancy(request: HttpRequest) -> dict[str, Any]:
    """Current tenant, the user's other tenants and the permissions of their role, for the layout."""
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    tenants = []
    # An API token's principal (`TokenUser`, no pk) acts for its own tenant only: it has no other tenants to list.
    if user is not None and user.is_authenticated and user.pk is not None:
        tenants = [m.tenant for m in user.memberships.select_related("tenant").order_by("tenant__name")]
    perms = {str(p) for p in ROLE_PERMS.get(membership.role, frozenset())} if membership else set()
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
        "user_tenants": tenants,
        "perms": perms,
    }
