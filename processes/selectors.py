"""Reads of processes and their timelines, always scoped by tenant."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Avg, Count, Max, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from admin_ui.models import Tenant
from processes.models import Process, ProcessEvent

RANGES = {
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(days=1),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}


def process_list(
    *,
    tenant: Tenant,
    topology_id: int | None = None,
    status: str = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[Process]:
    """The tenant's processes, newest first, filtered by topology, status and start time."""
    qs = Process.objects.filter(tenant=tenant).select_related("version", "version__topology")
    if topology_id:
        qs = qs.filter(version__topology_id=topology_id)
    if status in Process.Status.values:
        qs = qs.filter(status=status)
    if since is not None:
        qs = qs.filter(started_at__gte=since)
    if until is not None:
        qs = qs.filter(started_at__lte=until)
    return qs.order_by("-started_at", "-id")


def range_start(value: str) -> dt.datetime | None:
    delta = RANGES.get(value)
    return timezone.now() - delta if delta else None


def process_get(*, tenant: Tenant | None, pk: int) -> Process:
    """A process of the tenant, or 404 (also for other tenants' processes)."""
    if tenant is None:
        raise Http404("No tenant.")
    process = Process.objects.select_related("version", "version__topology").filter(tenant=tenant, pk=pk).first()
    if process is None:
        raise Http404("No such process.")
    return process


def process_timeline(*, process: Process, limit: int = 500) -> list[ProcessEvent]:
    return list(process.events.all().order_by("started_at", "id")[:limit])


def process_node_summary(*, process: Process) -> list[dict[str, Any]]:
    """Per node: runs, total and max duration, for the duration chart."""
    rows = (
        process.events.values("node_key")
        .annotate(runs=Count("id"), total_ms=Sum("duration_ms"), avg_ms=Avg("duration_ms"), max_ms=Max("duration_ms"))
        .order_by("node_key")
    )
    summary: list[dict[str, Any]] = [dict(r) for r in rows]
    peak = max((float(r["total_ms"] or 0) for r in summary), default=0.0) or 1.0
    for row in summary:
        row["pct"] = max(1, round(100 * float(row["total_ms"] or 0) / peak))
    return summary
