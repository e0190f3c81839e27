"""Reads of trashed messages, always scoped by tenant."""

from __future__ import annotations

from django.db.models import Count, Max, QuerySet
from django.shortcuts import get_object_or_404

from admin_ui.models import Tenant
from trash.models import TrashMessage


def trash_message_list(*, tenant: Tenant, filters: dict[str, str] | None = None) -> QuerySet[TrashMessage]:
    filters = filters or {}
    qs = TrashMessage.objects.filter(tenant=tenant).select_related("version__topology")
    status = filters.get("status", TrashMessage.Status.OPEN)
    if status:
        qs = qs.filter(status=status)
    if filters.get("topology"):
        qs = qs.filter(version__topology_id=filters["topology"])
    if filters.get("node"):
        qs = qs.filter(node_key=filters["node"])
    if filters.get("signature"):
        qs = qs.filter(signature=filters["signature"])
    if filters.get("q"):
        qs = qs.filter(reason__icontains=filters["q"])
    return qs.order_by("-created_at", "-id")


def trash_group_list(*, tenant: Tenant, filters: dict[str, str] | None = None) -> QuerySet:
    """Identical failures (same signature) folded into one row with a count, biggest group first."""
    return (
        trash_message_list(tenant=tenant, filters=filters)
        .values("signature", "node_key", "version__topology__name", "version__topology_id")
        .annotate(count=Count("id"), last_at=Max("created_at"), reason=Max("reason"))
        .order_by("-count", "-last_at")
    )


def trash_message_get(*, tenant: Tenant, pk: int) -> TrashMessage:
    """One trashed message of the tenant; another tenant's id is a 404."""
    return get_object_or_404(TrashMessage.objects.select_related("version__topology"), tenant=tenant, pk=pk)
