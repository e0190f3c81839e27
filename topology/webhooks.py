"""Webhook tokens of webhook start nodes: random, stored hashed (and encrypted to show operators), revocable,
rotatable, and optionally HMAC-signed (`X-Flowyard-Signature: sha256=<hex>`, the GitHub scheme)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from admin_ui.crypto import decrypt_json, encrypt_json
from admin_ui.lookup_cache import lookups_changed
from admin_ui.services import audit_log
from topology.models import Node, Topology, Webhook

SIGNATURE_HEADER = "X-Flowyard-Signature"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def webhook_url(token: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("webhook_start", args=[token])


def _snapshot(webhook: Webhook) -> dict[str, Any]:
    # Only the token's prefix: the audit log never holds a usable token or signing secret.
    return {
        "node": webhook.node_key,
        "prefix": webhook.prefix,
        "signed": bool(webhook.signing_secret_encrypted),
        "active": webhook.revoked_at is None,
    }


@transaction.atomic
def webhook_create(*, topology: Topology, node_key: str, signing_secret_encrypted: str = "") -> tuple[Webhook, str]:
    """Create a webhook for a start node; returns the row and the token (shown in the URL)."""
    token = secrets.token_urlsafe(32)
    webhook = Webhook.objects.create(
        tenant_id=topology.tenant_id,
        topology=topology,
        node_key=node_key,
        hashed_token=hash_token(token),
        token_encrypted=encrypt_json(token),
        prefix=token[:8],
        signing_secret_encrypted=signing_secret_encrypted,
    )
    return webhook, token


def webhook_revoke(*, webhook: Webhook, actor: Any = None) -> Webhook:
    """Revoke a webhook: its URL answers 404 from now on (other web workers: within their cache's few seconds)."""
    if webhook.revoked_at is None:
        before = _snapshot(webhook)
        webhook.revoked_at = timezone.now()
        webhook.save(update_fields=["revoked_at"])
        lookups_changed()
        audit_log(
            tenant=webhook.tenant,
            actor=actor,
            action="webhook.revoke",
            obj=webhook,
            before=before,
            after=_snapshot(webhook),
        )
    return webhook


@transaction.atomic
def webhook_rotate(*, webhook: Webhook, actor: Any = None) -> Webhook:
    """Replace a webhook's URL with a new one (the old one answers 404 at once); the signing secret carries over."""
    lookups_changed()
    old = Webhook.objects.select_for_update().get(pk=webhook.pk)
    before = _snapshot(old)
    if old.revoked_at is None:
        old.revoked_at = timezone.now()
        old.save(update_fields=["revoked_at"])
    new, _ = webhook_create(
        topology=old.topology, node_key=old.node_key, signing_secret_encrypted=old.signing_secret_encrypted
    )
    audit_log(tenant=old.tenant, actor=actor, action="webhook.rotate", obj=new, before=before, after=_snapshot(new))
    return new


def webhook_signing_set(*, webhook: Webhook, signed: bool, actor: Any = None) -> Webhook:
    """Require (with a new random secret) or stop requiring an HMAC signature on this webhook's requests."""
    lookups_changed()
    before = _snapshot(webhook)
    webhook.signing_secret_encrypted = encrypt_json(secrets.token_hex(32)) if signed else ""
    webhook.save(update_fields=["signing_secret_encrypted"])
    action = "webhook.signing.enable" if signed else "webhook.signing.disable"
    audit_log(tenant=webhook.tenant, actor=actor, action=action, obj=webhook, before=before, after=_snapshot(webhook))
    return webhook


def webhook_signing_secret(webhook: Webhook) -> str:
    return str(decrypt_json(webhook.signing_secret_encrypted)) if webhook.signing_secret_encrypted else ""


def signature_for(secret: str, body: bytes) -> str:
    """The `X-Flowyard-Signature` value of `body`: `sha256=` and the hex HMAC-SHA256 under the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(*, secret: str, body: bytes, signature: str | None) -> bool:
    """True when there is no secret, or `signature` is the body's under it, compared in constant time."""
    if not secret:
        return True
    return bool(signature) and hmac.compare_digest(signature_for(secret, body), str(signature).strip())


def webhook_signature_ok(*, webhook: Webhook, body: bytes, signature: str | None) -> bool:
    """True when the webhook needs no signature, or `signature` is the body's."""
    return signature_matches(secret=webhook_signing_secret(webhook), body=body, signature=signature)


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


def webhook_get(*, topology: Topology, pk: int) -> Webhook:
    """An active webhook of an (already tenant-checked) topology, or 404."""
    webhook = Webhook.objects.filter(topology=topology, pk=pk, revoked_at__isnull=True).select_related("tenant").first()
    if webhook is None:
        raise Http404("No such webhook.")
    return webhook


@dataclass(frozen=True)
class WebhookRow:
    """An active webhook as operators see it: its URL and, when signed, its secret."""

    id: int
    node_key: str
    url: str
    signed: bool
    secret: str
    created_at: Any


def webhook_list(*, topology: Topology) -> list[WebhookRow]:
    """Active webhooks of a topology with their URLs (show to operators and above only)."""
    rows = []
    for webhook in Webhook.objects.filter(topology=topology, revoked_at__isnull=True).order_by("node_key", "id"):
        if not webhook.token_encrypted:
            continue
        rows.append(
            WebhookRow(
                id=webhook.pk,
                node_key=webhook.node_key,
                url=webhook_url(str(decrypt_json(webhook.token_encrypted))),
                signed=bool(webhook.signing_secret_encrypted),
                secret=webhook_signing_secret(webhook),
                created_at=webhook.created_at,
            )
        )
    return rows


def webhook_urls(*, topology: Any) -> dict[str, str]:
    """Map webhook start node keys to their full URL for the topology's active webhooks (operators and above)."""
    return {row.node_key: row.url for row in webhook_list(topology=topology)}
