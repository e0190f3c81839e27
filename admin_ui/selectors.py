"""Reads for tenant accounts; every function is scoped by `tenant=` and returns 404 across tenants."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404

from admin_ui.applications import REGISTRY, ApplicationKind
from admin_ui.models import ApiToken, Application, ApplicationInstall, AuditEntry, Invitation, Membership, Tenant


def member_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")


def membership_get(*, tenant: Tenant, pk: int) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user", "tenant"), tenant=tenant, pk=pk)


def user_membership_get(*, user: Any, tenant_id: int) -> Membership:
    """The user's own membership of a tenant, or 404 for tenants they are not in."""
    return get_object_or_404(Membership.objects.select_related("tenant"), user=user, tenant_id=tenant_id)


def user_has_tenants(*, user: Any) -> bool:
    return Membership.objects.filter(user=user).exists()


def invitation_list(*, tenant: Tenant, pending_only: bool = True) -> QuerySet[Invitation]:
    qs = Invitation.objects.filter(tenant=tenant).select_related("invited_by").order_by("-created_at", "-id")
    return qs.filter(status=Invitation.Status.PENDING) if pending_only else qs


def invitation_get(*, tenant: Tenant, pk: int) -> Invitation:
    return get_object_or_404(Invitation.objects.select_related("tenant"), tenant=tenant, pk=pk)


def api_token_list(*, tenant: Tenant, include_revoked: bool = True) -> QuerySet[ApiToken]:
    # Active tokens (revoked_at NULL) first on every database: NULL ordering differs between SQLite and PostgreSQL.
    active_first = F("revoked_at").asc(nulls_first=True)
    qs = ApiToken.objects.filter(tenant=tenant).select_related("created_by").order_by(active_first, "-created_at")
    return qs if include_revoked else qs.filter(revoked_at__isnull=True)


def api_token_get(*, tenant: Tenant, pk: int) -> ApiToken:
    return get_object_or_404(ApiToken.objects.select_related("tenant"), tenant=tenant, pk=pk)


def application_list() -> list[tuple[Application, ApplicationKind]]:
    """Registered applications that exist both in code and in the table, by name."""
    rows = Application.objects.filter(key__in=list(REGISTRY)).order_by("name")
    return [(app, REGISTRY[app.key]) for app in rows]


def application_get(*, key: str) -> Application:
    return get_object_or_404(Application, key=key, key__in=list(REGISTRY))


def install_list(*, tenant: Tenant) -> QuerySet[ApplicationInstall]:
    return ApplicationInstall.objects.filter(tenant=tenant).select_related("application").order_by("name")


def install_get(*, tenant: Tenant, pk: int) -> ApplicationInstall:
    return get_object_or_404(ApplicationInstall.objects.select_related("application", "tenant"), tenant=tenant, pk=pk)


def audit_list(*, tenant: Tenant) -> QuerySet[AuditEntry]:
    """A tenant's audit log, newest first (filtered by `admin_ui.filters.AuditFilter`)."""
    return AuditEntry.objects.filter(tenant=tenant).select_related("actor").order_by("-at", "-id")


def audit_facets(*, tenant: Tenant) -> dict[str, list[str]]:
    """The actions and object types that occur in a tenant's log, for filter dropdowns."""
    qs = AuditEntry.objects.filter(tenant=tenant)
    return {
        "actions": sorted(set(qs.values_list("action", flat=True).distinct())),
        "object_types": sorted(set(qs.values_list("object_type", flat=True).distinct()) - {""}),
    }


def audit_diff(entry: AuditEntry) -> list[dict[str, Any]]:
    """Changed keys of an entry as rows of (key, before, after), nested dicts flattened with dots."""

    def flat(value: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                out.update(flat(v, f"{prefix}{k}."))
            return out if out or not prefix else {prefix[:-1]: {}}
        return {prefix[:-1] if prefix else "value": value}

    def show(value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "[]"
        return value

    before = {k: show(v) for k, v in (flat(entry.before) if entry.before is not None else {}).items()}
    after = {k: show(v) for k, v in (flat(entry.after) if entry.after is not None else {}).items()}
    rows = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if key in before and key in after and b == a:
            continue
        rows.append({"key": key, "before": b, "after": a, "had": key in before, "has": key in after})
    return rows
