"""Lifecycle hooks the topology services call after commit; the runtime fills them in."""

from __future__ import annotations

from typing import Any


def on_version_published(version: Any) -> None:
    """Called after a version is published (e.g. to create webhook tokens)."""


def on_version_enabled(version: Any, previous: Any | None) -> None:
    """Called after `version` is enabled and `previous` (if any) disabled: declare queues, sync cron, tell engines."""


def on_version_disabled(version: Any) -> None:
    """Called after a version is disabled: stop its starts; engines drain in-flight messages."""
