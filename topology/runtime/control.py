"""Lifecycle hooks the topology services call after commit, and broadcasts to running engines."""

from __future__ import annotations

import logging
from typing import Any

from pika.exceptions import AMQPError

log = logging.getLogger(__name__)


def broadcast(message: dict[str, Any]) -> bool:
    """Send a control message to every engine (fanout); False when the broker is unreachable."""
    from topology.runtime.broker import publisher

    try:
        publisher.broadcast(message)
    except (AMQPError, OSError) as exc:
        # Engines also reload on their own every 30 s, so a missed broadcast only delays the change.
        log.error("cannot tell engines %s: %s", message.get("type"), exc)
        return False
    return True


def declare_version_queues(version: Any) -> list[str]:
    """Declare the durable quorum queue(s) of every node of `version`; returns the queue names."""
    from topology.runtime.broker import publisher
    from topology.runtime.spec import build_version

    return publisher.declare_versions([build_version(version)])


def on_version_published(version: Any) -> None:
    """Called after a version is published: make sure every webhook start node has a token."""
    from topology.webhooks import webhook_ensure

    webhook_ensure(version=version)


def on_version_enabled(version: Any, previous: Any | None) -> None:
    """Called after `version` is enabled and `previous` (if any) disabled: declare queues, sync cron, tell engines."""
    from topology.tasks import cron_sync
    from topology.webhooks import webhook_ensure

    webhook_ensure(version=version)
    try:
        declare_version_queues(version)
    except (AMQPError, OSError) as exc:
        log.error("cannot declare queues of %s: %s", version, exc)
    cron_sync(topology=version.topology)
    broadcast({"type": "reload", "version": version.pk})


def on_version_disabled(version: Any) -> None:
    """Called after a version is disabled: stop its starts; engines drain in-flight messages."""
    from topology.tasks import cron_sync

    cron_sync(topology=version.topology)
    broadcast({"type": "reload", "version": version.pk})
