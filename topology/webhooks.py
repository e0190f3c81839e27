"""Webhook tokens of webhook start nodes: random, stored hashed (and encrypted to show again), revocable."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from admin_ui.crypto import decrypt_json, encrypt_json
from admin_ui.services import audit_log
from topology.models import Node, Topology, Webhook


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def webhook_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("webhook_start", args=[token])


@transaction.atomic
def webhook_create(*, topology: Topology, node_key: str) -> tuple[Webhook, str]:
    """Create a webhook for a start node; returns the row and the token (shown in the URL)."""
    token = secrets.token_urlsafe(32)
    webhook = Webhook.objects.create(
        tenant_id=topology.tenant_id,
        topology=topology,
        node_key=node_key,
        hashed_token=hash_token(token),
        token_encrypted=encrypt_json(token),
        prefix=token[:8],
    )
    return webhook, token


_revocations = 0


def webhook_revocations() -> int:
    """How many revokes this process made: caches of token lookups drop what they read before one."""
    return _revocations


def webhook_revoke(*, webhook: Webhook, actor: Any = None) -> Webhook:
    """Revoke a webhook: its URL answers 404 from now on."""
    global _revocations
    if webhook.revoked_at is None:
        webhook.revoked_at = timezone.now()
        webhook.save(update_fields=["revoked_at"])
        _revocations += 1
        audit_log(tenant=webhook.tenant, actor=actor, action="webhook.revoke", obj=webhook)
    return webhook


def webhook_ensure(*, version: Any) -> list[Webhook]:
    """Give every webhook start node of `version` an active webhook (kept across versions by node key)."""
    created = []
    keys = Node.objects.filter(version=version, kind=Node.Kind.START_WEBHOOK).values_list("key", flat=True)
    for key in keys:
        active = Webhook.objects.filter(topology_id=version.topology_id, node_key=key, revoked_at__isnull=True)
        if not active.exists():
            created.append(webhook_create(topology=version.topology, node_key=key)[0])
    return created


def webhook_for_token(token: str) -> Webhook | None:
    """The active webhook a token belongs to, or None."""
    return (
        Webhook.objects.select_related("topology", "tenant")
        .filter(hashed_token=hash_token(token), revoked_at__isnull=True, topology__deleted_at__isnull=True)
        .first()
    )


def webhook_urls(*, topology: Any) -> dict[str, str]:
    """Map webhook start node keys to their full URL for the topology's active webhooks."""
    urls: dict[str, str] = {}
    for webhook in Webhook.objects.filter(topology=topology, revoked_at__isnull=True).order_by("id"):
        if webhook.token_encrypted:
            urls[webhook.node_key] = webhook_url(str(decrypt_json(webhook.token_encrypted)))
    return urls
