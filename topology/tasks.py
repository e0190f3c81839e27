"""Celery tasks of topologies (adapters: ids in, one service call) and the beat schedule sync of cron starts."""

from __future__ import annotations

import json
import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction

from topology.models import Node, Topology, TopologyVersion

log = logging.getLogger(__name__)

CRON_TASK = "topology.tasks.cron_start"


def cron_task_name(*, topology_id: int, node_key: str) -> str:
    return f"flowyard-cron:{topology_id}:{node_key}"


@shared_task(ignore_result=True)
def cron_start(version_id: int, node_key: str) -> str | None:
    """Start a process at a cron start node of an enabled version (beat calls this)."""
    from topology.starts import StartError, process_start

    version = TopologyVersion.objects.select_related("topology").filter(pk=version_id, enabled=True).first()
    if version is None:
        return None
    node = version.nodes.filter(key=node_key).first()
    payload: Any = (node.config.get("payload") if node else None) or {}
    try:
        process = process_start(version=version, body=payload, node_key=node_key, kinds=(Node.Kind.START_CRON,))
    except StartError as exc:
        log.warning("cron start of %s/%s refused: %s", version, node_key, exc.detail)
        return None
    return process.correlation_id


def _crontab(expression: str) -> Any:
    from django_celery_beat.models import CrontabSchedule

    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"cron needs 5 fields, got {expression!r}")
    minute, hour, day_of_month, month_of_year, day_of_week = parts
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=settings.CELERY_TIMEZONE,
    )
    return schedule


@transaction.atomic
def cron_sync(*, topology: Topology) -> list[Any]:
    """Make the topology's beat rows match the cron start nodes of its enabled version (none if disabled)."""
    from django_celery_beat.models import PeriodicTask

    prefix = cron_task_name(topology_id=topology.pk, node_key="")
    version = topology.versions.filter(enabled=True).first()
    wanted: dict[str, Any] = {}
    if version is not None and topology.deleted_at is None:
        for node in version.nodes.filter(kind=Node.Kind.START_CRON).order_by("id"):
            expression = str(node.config.get("cron") or "").strip()
            try:
                schedule = _crontab(expression)
            except (ValueError, TypeError) as exc:
                log.error("cron start %s of %s skipped: %s", node.key, version, exc)
                continue
            wanted[cron_task_name(topology_id=topology.pk, node_key=node.key)] = (node, schedule)
    PeriodicTask.objects.filter(name__startswith=prefix).exclude(name__in=list(wanted)).delete()
    rows = []
    for name, (node, schedule) in wanted.items():
        row, _ = PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": CRON_TASK,
                "crontab": schedule,
                "interval": None,
                "args": json.dumps([version.pk, node.key]),  # type: ignore[union-attr]
                "enabled": True,
                "description": f"Cron start {node.key} of {topology.name}",
            },
        )
        rows.append(row)
    return rows
