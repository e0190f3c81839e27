"""Reads of trashed messages, their history and bulk jobs, always scoped by tenant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from admin_ui.ids import parse_id
from admin_ui.models import Tenant
from processes.models import Process, ProcessEvent
from topology.models import Node, Topology
from trash.models import TrashBulkJob, TrashEdit, TrashMessage

FILTER_KEYS = ("status", "topology", "version", "node", "q", "corr", "range", "signature", "sort")
RANGES = {
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(days=1),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}
SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "updated": ("-updated_at", "-id"),
    "attempts": ("-attempts", "-created_at"),
    "node": ("node_key", "-created_at"),
}


def trash_filters(params: Mapping[str, Any]) -> dict[str, str]:
    """The list filters from query parameters; status defaults to open, everything else to all."""
    filters = {key: str(params.get(key, "") or "").strip() for key in FILTER_KEYS}
    if "status" not in params:
        filters["status"] = TrashMessage.Status.OPEN
    return filters


def trash_message_list(*, tenant: Tenant, filters: Mapping[str, str] | None = None) -> QuerySet[TrashMessage]:
    """The tenant's trashed messages matching the filters (topology, version, node, reason, status, time range,
    correlation id, signature), sorted."""
    filters = filters or {}
    qs = TrashMessage.objects.filter(tenant=tenant).select_related("version__topology", "node")
    status = filters.get("status", TrashMessage.Status.OPEN)
    if status in TrashMessage.Status.values:
        qs = qs.filter(status=status)
    topology = parse_id(filters.get("topology"))
    if topology is not None:
        qs = qs.filter(version__topology_id=topology)
    version = parse_id(filters.get("version"))
    if version is not None:
        qs = qs.filter(version__number=version)
    node = filters.get("node")
    if node:
        qs = qs.filter(Q(node_key=node) | Q(node__name__iexact=node))
    if filters.get("signature"):
        qs = qs.filter(signature=filters["signature"])
    if filters.get("q"):
        qs = qs.filter(reason__icontains=filters["q"])
    if filters.get("corr"):
        qs = qs.filter(correlation_id=filters["corr"])
    delta = RANGES.get(str(filters.get("range") or ""))
    if delta is not None:
        qs = qs.filter(created_at__gte=timezone.now() - delta)
    return qs.order_by(*SORTS.get(str(filters.get("sort") or ""), SORTS["newest"]))


def trash_group_list(*, tenant: Tenant, filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Identical failures (same signature: normalised reason + node) folded into one row with a count,
    first and last seen; biggest group first."""
    rows = (
        trash_message_list(tenant=tenant, filters=filters)
        .order_by()
        .values("signature", "node_key", "version__topology__name", "version__topology_id")
        .annotate(
            count=Count("id"),
            first_at=Min("created_at"),
            last_at=Max("created_at"),
            reason=Max("reason"),
            group_node_name=Max("node__name"),
        )
        .order_by("-count", "-last_at")
    )
    return [{**row, "node_name": row["group_node_name"]} for row in rows]


def trash_message_get(*, tenant: Tenant | None, pk: int) -> TrashMessage:
    """One trashed message of the tenant; another tenant's id is a 404."""
    if tenant is None:
        raise Http404("No tenant.")
    message = (
        TrashMessage.objects.select_related("tenant", "version__topology", "node").filter(tenant=tenant, pk=pk).first()
    )
    if message is None:
        raise Http404("No such message.")
    return message


def trash_history(*, message: TrashMessage) -> QuerySet[TrashEdit]:
    """Every edit, resend, reject and new failure of a message, newest first."""
    return message.edits.select_related("actor").order_by("-at", "-id")


def trash_process(*, message: TrashMessage) -> Process | None:
    return Process.objects.filter(tenant_id=message.tenant_id, correlation_id=message.correlation_id).first()


def trash_timeline(*, process: Process | None, message: TrashMessage, limit: int = 200) -> list[ProcessEvent]:
    """The process's node runs up to the message's last failure."""
    if process is None:
        return []
    return list(process.events.filter(started_at__lte=message.updated_at).order_by("started_at", "id")[:limit])


def trash_node_names(*, message: TrashMessage) -> dict[str, str]:
    """Node names of the message's version by key, so timelines show names and not BPMN ids."""
    return {
        key: name or key for key, name in Node.objects.filter(version_id=message.version_id).values_list("key", "name")
    }


def trash_for_process(*, process: Process) -> QuerySet[TrashMessage]:
    """The trashed messages of one process (links from the process page)."""
    return TrashMessage.objects.filter(tenant_id=process.tenant_id, correlation_id=process.correlation_id).order_by(
        "created_at", "id"
    )


def trash_bulk_job_list(*, tenant: Tenant, limit: int = 10) -> list[TrashBulkJob]:
    return list(TrashBulkJob.objects.filter(tenant=tenant).defer("snapshot").order_by("-created_at", "-id")[:limit])


def trash_bulk_job_get(*, tenant: Tenant | None, pk: int) -> TrashBulkJob:
    """One bulk job of the tenant; another tenant's job is a 404."""
    if tenant is None:
        raise Http404("No tenant.")
    job = TrashBulkJob.objects.defer("snapshot").filter(tenant=tenant, pk=pk).first()
    if job is None:
        raise Http404("No such bulk job.")
    return job


def trash_selection(
    *,
    tenant: Tenant,
    ids: list[int] | None = None,
    filters: Mapping[str, str] | None = None,
    signature: str = "",
) -> tuple[QuerySet[TrashMessage], str, str]:
    """The open messages a bulk action works on (picked ids, a filter, or a group) with its group key and a
    description for the job list. Ids, groups or topologies that are not the tenant's are a 404."""
    own = TrashMessage.objects.filter(tenant=tenant)
    qs = own.filter(status=TrashMessage.Status.OPEN)
    if signature:
        reason = own.filter(signature=signature).values_list("reason", flat=True).first()
        if reason is None:
            raise Http404("No such group.")
        return qs.filter(signature=signature), signature, f"group: {reason[:120]}"
    if ids is not None:
        wanted = set(ids)
        if len(wanted) != own.filter(pk__in=wanted).count():
            raise Http404("No such message.")
        return qs.filter(pk__in=wanted), "selection", f"{len(wanted)} selected messages"
    filters = dict(filters or {})
    topology = str(filters.get("topology") or "")
    topology_id = parse_id(topology)
    if topology and not (topology_id and Topology.objects.filter(tenant=tenant, pk=topology_id).exists()):
        raise Http404("No such topology.")
    matching = trash_message_list(tenant=tenant, filters={**filters, "status": TrashMessage.Status.OPEN})
    described = ", ".join(f"{k}={v}" for k, v in filters.items() if v and k not in ("status", "sort"))
    return matching, "selection", f"all matching {described or 'no filter'}"
