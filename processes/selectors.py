"""Reads of processes and their timelines, always scoped by tenant."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Avg, Count, Max, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from admin_ui.models import Tenant
from processes.models import Process, ProcessEvent
from topology.models import Node, TopologyVersion

START_KINDS = [Node.Kind.START_MANUAL, Node.Kind.START_WEBHOOK, Node.Kind.START_CRON, Node.Kind.START_EVENT]

RANGES = {
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(days=1),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}


def process_list(*, tenant: Tenant) -> QuerySet[Process]:
    """The tenant's processes, newest first; `processes.filters.ProcessFilter` narrows them."""
    return (
        Process.objects.filter(tenant=tenant)
        .select_related("version", "version__topology")
        .order_by("-started_at", "-id")
    )


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


def start_nodes(*, version: TopologyVersion | None) -> list[Node]:
    """The start nodes of a version in diagram order (none without a version)."""
    if version is None:
        return []
    return list(version.nodes.filter(kind__in=START_KINDS).order_by("id"))


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
