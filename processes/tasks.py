"""Celery tasks of processes (adapters: ids in, one service call)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from admin_ui.errors import ServiceError
from processes.services import process_start
from topology.models import Node, TopologyVersion

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def cron_start(version_id: int, node_key: str) -> str | None:
    """Start a process at a cron start node of an enabled version (beat calls this)."""
    version = TopologyVersion.objects.select_related("topology").filter(pk=version_id, enabled=True).first()
    if version is None:
        return None
    node = version.nodes.filter(key=node_key).first()
    payload: Any = (node.config.get("payload") if node else None) or {}
    try:
        process = process_start(version=version, body=payload, node_key=node_key, kinds=(Node.Kind.START_CRON,))
    except ServiceError as exc:
        log.warning("cron start of %s/%s refused: %s", version, node_key, exc.detail)
        return None
    return process.correlation_id
