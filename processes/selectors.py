"""Reads of processes and their timelines, always scoped by tenant."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import Avg, Count, Max, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from admin_ui.models import Tenant
from processes.models import Process, ProcessEvent
from topology.kinds import START_KINDS
from topology.models import Node, TopologyVersion

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
    """Per node: runs, total and max duration, for the duration chart (waits in delay queues are not runs)."""
    rows = (
        process.events.exclude(result_code__in=WAIT_CODES)
        .values("node_key")
        .annotate(runs=Count("id"), total_ms=Sum("duration_ms"), avg_ms=Avg("duration_ms"), max_ms=Max("duration_ms"))
        .order_by("node_key")
    )
    summary: list[dict[str, Any]] = [dict(r) for r in rows]
    peak = max((float(r["total_ms"] or 0) for r in summary), default=0.0) or 1.0
    for row in summary:
        row["pct"] = max(1, round(100 * float(row["total_ms"] or 0) / peak))
    return summary


# ---- Live monitoring reads: the topology monitor, a process's path, the tenant dashboard ----------------------

# Result codes as words (DESIGN.md §4, plus the engine's event-only codes) for the timeline and overlays.
RESULT_WORDS = {
    0: "success",
    1001: "repeat",
    1002: "forward",
    1003: "stop",
    1004: "limited",
    1006: "failed",
    1010: "split",
    1011: "batch cursor",
    2001: "retry",
    2006: "trashed",
    2009: "terminated",
    2010: "delay hop",
}
# A run with one of these codes did not finish the node's work: the message waits in a delay queue.
WAIT_CODES = frozenset({1001, 1004, 2001, 2010})
FAILED_CODES = frozenset({1006, 2006})


def result_word(code: int) -> str:
    return RESULT_WORDS.get(int(code), "unknown")


def result_tone(code: int) -> str:
    """The badge colour of a result code: ok, wait, err or info."""
    if code in FAILED_CODES:
        return "err"
    if code in WAIT_CODES:
        return "wait"
    if code in (0, 1003):
        return "ok"
    return "info"


def process_search(qs: QuerySet[Process], q: str) -> QuerySet[Process]:
    """`?q=`: a correlation id, whole or its beginning (what operators paste from logs and headers)."""
    q = q.strip()
    return qs.filter(correlation_id__startswith=q) if q else qs


def process_list_for_ids(*, tenant: Tenant, ids: list[int]) -> QuerySet[Process]:
    """The selected processes of a bulk action; ids of other tenants are silently not there."""
    return Process.objects.filter(tenant=tenant, pk__in=ids).select_related("version", "version__topology")


def node_names(*, version_id: int) -> dict[str, str]:
    """BPMN ids to node names of one version (names are what operators recognise; ids stay a hint)."""
    from topology.models import Node

    return {key: name or key for key, name in Node.objects.filter(version_id=version_id).values_list("key", "name")}


def _minute(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


def topology_monitor(*, topology: Any, version: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """Per node of the enabled version: queue depth and in flight (sampled), processed / failed per minute, the
    last hour's totals, trashed, waiting, and a state (idle, busy, backlog, failing) for the overlay colours."""
    from processes.depths import read_depths
    from processes.models import NodeStat
    from topology.models import Node

    now = now or timezone.now()
    current = _minute(now)
    previous = current - dt.timedelta(minutes=1)
    # The per-minute rate slides: all of this minute, plus the part of the last minute still inside 60 s.
    weight = 1 - (now - current).total_seconds() / 60
    nodes = {n.pk: n for n in Node.objects.filter(version=version)}
    figures: dict[int, dict[str, float]] = {pk: defaultdict(float) for pk in nodes}
    for row in NodeStat.objects.filter(node_id__in=list(nodes), minute__gte=current - dt.timedelta(hours=1)).values(
        "node_id", "minute", "processed", "failed", "trashed"
    ):
        f = figures[row["node_id"]]
        f["processed_hour"] += row["processed"]
        f["failed_hour"] += row["failed"]
        f["trashed_hour"] += row["trashed"]
        share = 1.0 if row["minute"] >= current else weight if row["minute"] >= previous else 0.0
        f["processed_min"] += share * row["processed"]
        f["failed_min"] += share * row["failed"]
        if row["minute"] >= previous:
            f["recent"] += row["processed"]
            f["recent_failed"] += row["failed"]
    # Only running processes can have a message waiting; going through them uses the (process, ...) index
    # instead of scanning every timeline row of the version.
    running = Process.objects.filter(version=version, status=Process.Status.IN_PROGRESS).values("pk")
    waiting = dict(
        ProcessEvent.objects.filter(
            process__in=running, result_code__in=WAIT_CODES, started_at__gte=now - dt.timedelta(minutes=1)
        )
        .values("node_key")
        .annotate(n=Count("id"))
        .values_list("node_key", "n")
    )
    depths, depths_at = read_depths(topology_id=topology.pk)
    out: dict[str, dict[str, Any]] = {}
    for pk, node in nodes.items():
        f = figures[pk]
        depth = depths.get(node.key, {})
        ready, in_flight = depth.get("ready"), depth.get("in_flight")
        processed_min = round(f["processed_min"])
        if f["recent_failed"] > 0:
            state = "failing"
        elif ready and ready > max(10, processed_min / 6):  # more than ~10 s of work queued
            state = "backlog"
        elif ready or in_flight or f["recent"] > 0:
            state = "busy"
        else:
            state = "idle"
        out[node.key] = {
            "name": node.name or node.key,
            "kind": node.kind,
            "depth": ready,
            "in_flight": in_flight,
            "processed_min": processed_min,
            "failed_min": round(f["failed_min"]),
            "processed_hour": int(f["processed_hour"]),
            "failed_hour": int(f["failed_hour"]),
            "trashed_hour": int(f["trashed_hour"]),
            "waiting": int(waiting.get(node.key, 0)),
            "state": state,
        }
    return {"nodes": out, "depths_at": depths_at, "at": now.isoformat()}


def node_recent(*, tenant: Tenant, version: Any, node_key: str, limit: int = 15) -> dict[str, Any]:
    """A node's last runs (with their processes) and its open trash, for the monitor's side panel."""
    from trash.selectors import trash_message_list

    runs = list(
        ProcessEvent.objects.filter(process__version=version, process__tenant=tenant, node_key=node_key)
        .select_related("process")
        .order_by("-started_at", "-id")[:limit]
    )
    trash = trash_message_list(tenant=tenant, filters={"topology": str(version.topology_id), "node": node_key})
    return {"runs": runs, "trash": list(trash[:10]), "trash_count": trash.count()}


def process_path(*, process: Process) -> dict[str, Any]:
    """Per visited node: runs (waits not counted), waits, failures and total time; for the diagram overlay."""
    rows = (
        process.events.values("node_key", "result_code")
        .annotate(n=Count("id"), ms=Sum("duration_ms"))
        .order_by("node_key")
    )
    nodes: dict[str, dict[str, Any]] = {}
    for row in rows:
        node = nodes.setdefault(row["node_key"], {"runs": 0, "waits": 0, "failed": 0, "total_ms": 0.0})
        if row["result_code"] in WAIT_CODES:
            node["waits"] += row["n"]
        else:
            node["runs"] += row["n"]
            node["total_ms"] += float(row["ms"] or 0)
        if row["result_code"] in FAILED_CODES:
            node["failed"] += row["n"]
    return {"nodes": nodes, "status": process.status}


def process_trash(*, process: Process) -> list[Any]:
    """The trashed messages of one process (any status), newest first."""
    from trash.selectors import trash_message_list

    return list(
        trash_message_list(tenant=process.tenant, filters={"status": ""}).filter(correlation_id=process.correlation_id)[
            :50
        ]
    )


DASHBOARD_RANGES = {
    "1h": (dt.timedelta(hours=1), dt.timedelta(minutes=1)),
    "24h": (dt.timedelta(days=1), dt.timedelta(hours=1)),
}


def dashboard(*, tenant: Tenant, span: str = "1h", now: dt.datetime | None = None) -> dict[str, Any]:
    """Throughput and errors per topology over the last hour (per minute) or day (per hour), top failing nodes,
    trash size and processes in progress."""
    from processes.models import NodeStat
    from trash.models import TrashMessage
    from trash.selectors import trash_message_list

    now = now or timezone.now()
    length, step = DASHBOARD_RANGES.get(span, DASHBOARD_RANGES["1h"])
    end = _minute(now) if step.total_seconds() == 60 else now.replace(minute=0, second=0, microsecond=0)
    start = end - length + step
    buckets = [start + i * step for i in range(int(length / step))]
    index = {b: i for i, b in enumerate(buckets)}
    rows = NodeStat.objects.filter(node__version__topology__tenant=tenant, minute__gte=start).values(
        "minute", "processed", "failed", "node__version__topology_id", "node__version__topology__name"
    )
    processed: dict[str, list[int]] = {}
    failed: dict[str, list[int]] = {}
    for row in rows:
        minute = row["minute"]
        bucket = _minute(minute) if step.total_seconds() == 60 else minute.replace(minute=0)
        i = index.get(bucket)
        if i is None:
            continue
        name = row["node__version__topology__name"]
        processed.setdefault(name, [0] * len(buckets))[i] += row["processed"]
        failed.setdefault(name, [0] * len(buckets))[i] += row["failed"]
    times = [int(b.timestamp()) for b in buckets]
    top_failing = list(
        NodeStat.objects.filter(node__version__topology__tenant=tenant, minute__gte=now - length, failed__gt=0)
        .values("node__key", "node__name", "node__version__topology__name", "node__version__topology_id")
        .annotate(failed=Sum("failed"), processed=Sum("processed"))
        .order_by("-failed")[:8]
    )
    return {
        "span": span if span in DASHBOARD_RANGES else "1h",
        "throughput": {"times": times, "series": [{"label": k, "values": v} for k, v in sorted(processed.items())]},
        "errors": {"times": times, "series": [{"label": k, "values": v} for k, v in sorted(failed.items()) if any(v)]},
        "totals": {
            "processed": sum(sum(v) for v in processed.values()),
            "failed": sum(sum(v) for v in failed.values()),
            "in_progress": Process.objects.filter(tenant=tenant, status=Process.Status.IN_PROGRESS).count(),
            "trash_open": trash_message_list(tenant=tenant, filters={"status": TrashMessage.Status.OPEN}).count(),
        },
        "top_failing": top_failing,
    }


def process_payload_ids(*, process: Process) -> set[str]:
    """Message ids of the process's runs whose payloads were kept (nodes with `keepPayload`)."""
    from processes.models import ProcessPayload

    return set(ProcessPayload.objects.filter(process=process).values_list("message_id", flat=True))


def process_payload_get(*, process: Process, message_id: str) -> Any:
    """One kept payload of an (already tenant-checked) process, or 404."""
    from processes.models import ProcessPayload

    payload = ProcessPayload.objects.filter(process=process, message_id=message_id).first()
    if payload is None:
        raise Http404("No payload was kept for this run.")
    return payload


def limiter_saturation(*, tenant: Tenant) -> dict[str, Any]:
    """The limiter's live usage per key for the dashboard; None while the limiter app cannot report it (its
    `limit_usage` selector lands with the limiter work), with the configured limits instead."""
    from limiter import selectors as limiter_selectors

    usage = getattr(limiter_selectors, "limit_usage", None)
    limits = list(limiter_selectors.limit_list(tenant=tenant)[:20])
    return {"limits": limits, "limiter_usage": usage(tenant=tenant) if usage else None}
