"""Control plane of the engines: broadcasts to every running engine (reloads, terminates, limiter pauses) and
queue declaration of a version."""

from __future__ import annotations

import logging
from typing import Any

from pika.exceptions import AMQPError

from topology.runtime.broker import publisher
from topology.runtime.spec import build_version

log = logging.getLogger(__name__)


def broadcast(message: dict[str, Any]) -> bool:
    """Send a control message to every engine (fanout); False when the broker is unreachable."""
    try:
        publisher.broadcast(message)
    except (AMQPError, OSError) as exc:
        # Engines also reload on their own every 30 s, so a missed broadcast only delays the change.
        log.error("cannot tell engines %s: %s", message.get("type"), exc)
        return False
    return True


def pause_notice(keys: list[str], ms: int) -> bool:
    """Tell every engine that the limiter keys `keys` are paused for `ms` from now (a remote's Retry-After)."""
    return broadcast({"type": "pause", "keys": keys, "ms": ms})


def declare_version_queues(version: Any) -> list[str]:
    """Declare the durable quorum queue(s) of every node of `version`; returns the queue names."""
    return publisher.declare_versions([build_version(version)])


def version_started(version: Any) -> None:
    """Declare an enabled version's queues and tell the engines to consume them."""
    try:
        declare_version_queues(version)
    except (AMQPError, OSError) as exc:
        log.error("cannot declare queues of %s: %s", version, exc)
    broadcast({"type": "reload", "version": version.pk})


def version_stopped(version: Any) -> None:
    """Tell the engines a version stopped taking starts; its in-flight messages drain."""
    broadcast({"type": "reload", "version": version.pk})
