"""Cron start schedules: one django-celery-beat row per cron start node of the enabled version."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from topology.models import Node, Topology

log = logging.getLogger(__name__)

# The task lives in processes (starts run there); beat only needs its name.
CRON_TASK = "processes.tasks.cron_start"


def cron_task_name(*, topology_id: int, node_key: str) -> str:
    return f"flowyard-cron:{topology_id}:{node_key}"


def _crontab(expression: str) -> Any:
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
