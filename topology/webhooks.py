"""Webhook URLs of a topology's webhook start nodes (the runtime work creates the tokens)."""

from __future__ import annotations

from typing import Any


def webhook_urls(*, topology: Any) -> dict[str, str]:
    """Map webhook start node keys to their full URL for the topology's active webhooks."""
    return {}
